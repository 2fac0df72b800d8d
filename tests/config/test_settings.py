from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, SettingsError, load_settings


def test_defaults_need_no_file() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert settings.data == Path("./trackway-data")
    assert settings.server.http == "127.0.0.1:8080"


def test_file_then_env_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(
        'data = "/srv/a"\nbase_url = "https://links.example.com/"\n'
        '[server]\nhttp = "0.0.0.0:80"\nworkers = 2\n'
        '[rewrite]\nopt_out_classes = ["skip"]\n'
    )
    settings = load_settings(
        None,
        {
            "TRACKWAY_CONFIG": str(config),
            "TRACKWAY_SERVER_WORKERS": "4",
            "TRACKWAY_REWRITE_OPT_OUT_ATTRIBUTES": "a, b=c",
            "HOME": "/root",
        },
        {"data": Path("/srv/b")},
    )
    assert settings.data == Path("/srv/b")
    assert settings.base_url == "https://links.example.com"
    assert settings.server.http == "0.0.0.0:80"
    assert settings.server.workers == 4
    assert settings.rewrite.opt_out_classes == ("skip",)
    assert settings.rewrite.opt_out_attributes == ("a", "b=c")


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("colour = 1\n", {}, "unknown setting: colour"),
        ("[server]\nhtpp = '1:2'\n", {}, "unknown setting: server.htpp"),
        ("[server]\nworkers = 'many'\n", {}, "server.workers: expected an integer"),
        ("[server]\nhttp = 'nowhere'\n", {}, "server.http: expected HOST:PORT"),
        ("base_url = 'ftp://x'\n", {}, "base_url: expected an http(s) URL"),
        ("server = 3\n", {}, "server: expected a table"),
        ("[rewrite]\nopt_out_classes = [1]\n", {}, "rewrite.opt_out_classes: expected a list"),
        ("x = \n", {}, "trackway.toml"),
        ("", {"TRACKWAY_SERVER_WORKRS": "2"}, "unknown setting: server.workrs"),
    ],
)
def test_wrong_keys_and_values_name_the_key(
    tmp_path: Path, toml: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config, env)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKWAY_TEST_CORPUS": "x"}, "$TRACKWAY_TEST_CORPUS: unknown setting: test_corpus"),
        (
            {"TRACKWAY_SERVER_WORKERS": "many"},
            "$TRACKWAY_SERVER_WORKERS: server.workers: expected",
        ),
        ({"TRACKWAY_SERVER_HTTP": "nowhere"}, "$TRACKWAY_SERVER_HTTP: server.http: expected"),
    ],
)
def test_a_wrong_variable_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(None, env)
    assert str(raised.value).startswith(message)


def test_a_file_value_overridden_by_a_variable_names_the_variable(tmp_path: Path) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text("[server]\nworkers = 2\n")
    with pytest.raises(SettingsError, match=r"^\$TRACKWAY_SERVER_WORKERS: "):
        load_settings(config, {"TRACKWAY_SERVER_WORKERS": "-1"})


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", {})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.data = Path("/x")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("given", "directory"),
    [
        ("staging", "https://acme-staging-v02.api.letsencrypt.org/directory"),
        ("production", "https://acme-v02.api.letsencrypt.org/directory"),
        ("https://ca.example.net/dir", "https://ca.example.net/dir"),
    ],
)
def test_acme_directory_names_for_lets_encrypt(given: str, directory: str) -> None:
    assert load_settings(None, {"TRACKWAY_ACME_DIRECTORY": given}).acme.directory == directory


def test_an_acme_directory_that_is_no_url_nor_name() -> None:
    with pytest.raises(SettingsError, match='a directory URL, "staging" or "production"'):
        load_settings(None, {"TRACKWAY_ACME_DIRECTORY": "letsencrypt"})
