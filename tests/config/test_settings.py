from __future__ import annotations

from pathlib import Path

import pytest

from config import ClickSettings, Settings, SettingsError, load_settings


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


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # Not numbers at all: `nan` would turn a rule off, `inf` never ends a wait.
        ("[clicks]\ntoo_fast_seconds = nan\n", "clicks.too_fast_seconds: expected a finite"),
        ("[clicks]\nburst_seconds = inf\n", "clicks.burst_seconds: expected a finite"),
        ("[checks]\ntimeout = -inf\n", "checks.timeout: expected a finite"),
        ("[store]\nspool_retry_seconds = 'NaN'\n", "store.spool_retry_seconds: expected a finite"),
        ("[dns]\ntimeout = 1e999\n", "dns.timeout: expected a finite"),
        (
            "[acme]\ncheck_interval = 1" + "0" * 400 + "\n",
            "acme.check_interval: expected a finite",
        ),
        # Numbers out of their range.
        ("[clicks]\ntoo_fast_seconds = -1\n", "clicks.too_fast_seconds: from 0 to 86400"),
        ("[clicks]\ntoo_fast_seconds = 86401\n", "clicks.too_fast_seconds: from 0 to 86400"),
        ("[clicks]\nburst_links = 1\n", "clicks.burst_links: from 2 to 1000"),
        ("[clicks]\nburst_links = 1001\n", "clicks.burst_links: from 2 to 1000"),
        ("[clicks]\nburst_seconds = 0\n", "clicks.burst_seconds: more than 0, at most 3600"),
        ("[clicks]\nburst_seconds = 3601\n", "clicks.burst_seconds: more than 0, at most 3600"),
        ("[server]\nworkers = -1\n", "server.workers: from 0 to 1024"),
        ("[server]\nworkers = 100000\n", "server.workers: from 0 to 1024"),
        ("[store]\nspool_retry_seconds = -5\n", "store.spool_retry_seconds: more than 0"),
        ("[store]\nspool_retry_seconds = 1e9\n", "store.spool_retry_seconds: more than 0"),
        ("[store]\nbusy_timeout_ms = -1\n", "store.busy_timeout_ms: from 0 to 60000"),
        ("[store]\nbusy_timeout_ms = 1" + "0" * 30 + "\n", "store.busy_timeout_ms: from 0 to"),
        ("[dns]\ntimeout = 0\n", "dns.timeout: more than 0, at most 60"),
        ("[dns]\ntimeout = -3\n", "dns.timeout: more than 0, at most 60"),
        ("[checks]\ntimeout = -1\n", "checks.timeout: more than 0, at most 120"),
        ("[checks]\ninterval = -60\n", "checks.interval: more than 0, at most 604800"),
        ("[checks]\nhttp_port = 0\n", "checks.http_port: from 1 to 65535"),
        ("[checks]\nhttps_port = 70000\n", "checks.https_port: from 1 to 65535"),
        ("[acme]\ncheck_interval = 0\n", "acme.check_interval: more than 0, at most 86400"),
    ],
)
def test_numbers_must_be_finite_and_in_range(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as raised:
        load_settings(config, {})
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TRACKWAY_CLICKS_TOO_FAST_SECONDS", "nan"), ("TRACKWAY_CHECKS_TIMEOUT", "-1")],
)
def test_a_number_out_of_range_from_a_variable_names_it(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^\${variable}: "):
        load_settings(None, {variable: value})


def test_sections_built_in_code_are_checked_too() -> None:
    with pytest.raises(SettingsError, match=r"^clicks\.too_fast_seconds: from 0 to 86400"):
        ClickSettings(too_fast_seconds=float("nan"))


@pytest.mark.parametrize(
    "toml",
    [
        "[clicks]\ntoo_fast_seconds = 0\nburst_links = 2\nburst_seconds = 0.5\n",
        "[clicks]\ntoo_fast_seconds = 86400\nburst_links = 1000\nburst_seconds = 3600\n",
        "[store]\nspool_retry_seconds = 0.05\nbusy_timeout_ms = 0\n",
        "[checks]\ninterval = 1\ntimeout = 120\nhttp_port = 1\nhttps_port = 65535\n",
        "[server]\nworkers = 0\n[dns]\ntimeout = 60\n[acme]\ncheck_interval = 1\n",
    ],
)
def test_the_ends_of_each_range_are_allowed(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    load_settings(config, {})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[checks]\nallowed_networks = ['10.0.0.0/33']\n",
            "checks.allowed_networks: '10.0.0.0/33'",
        ),
        ("[checks]\nallowed_networks = ['loopback']\n", "checks.allowed_networks: 'loopback'"),
        ("[regions]\nus = '127.0.0.1'\n", "regions.us: a host name"),
    ],
)
def test_networks_and_region_hosts(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as raised:
        load_settings(config, {})
    assert str(raised.value).startswith(message)
    allowed = load_settings(None, {"TRACKWAY_CHECKS_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128"})
    assert allowed.checks.allowed_networks == ("127.0.0.0/8", "::1/128")
