"""`[store] url` and `retention_days` (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load_settings, redacted_store_url

URL = "postgresql://trackway:s3cret@db.internal:5432/trackway"


def test_empty_by_default_sqlite() -> None:
    settings = load_settings()
    assert settings.store.url == ""
    assert settings.store.retention_days == 0


def test_from_the_file_or_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "t.toml"
    config.write_text(f'[store]\nurl = "{URL}"\nretention_days = 400\n')
    settings = load_settings(config)
    assert (settings.store.url, settings.store.retention_days) == (URL, 400)
    from_env = load_settings(env={"TRACKWAY_STORE_URL": URL, "TRACKWAY_STORE_RETENTION_DAYS": "7"})
    assert (from_env.store.url, from_env.store.retention_days) == (URL, 7)


def test_the_password_is_never_shown() -> None:
    settings = load_settings(env={"TRACKWAY_STORE_URL": URL})
    assert "s3cret" not in repr(settings)
    assert redacted_store_url(URL) == "postgresql://trackway:***@db.internal:5432/trackway"
    assert redacted_store_url("postgresql://trackway@db/t") == "postgresql://trackway@db/t"
    assert (
        redacted_store_url("postgresql://db/t?user=u&password=s3cret&sslmode=require")
        == "postgresql://db/t?user=u&password=***&sslmode=require"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRACKWAY_STORE_URL": "mysql://x@y/z"}, "$TRACKWAY_STORE_URL: store.url: a postgresql"),
        ({"TRACKWAY_STORE_RETENTION_DAYS": "-1"}, "store.retention_days: from 0"),
    ],
)
def test_wrong_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("$", r"\$")):
        load_settings(env=env)
