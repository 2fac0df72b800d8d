"""`[proxy]`: the reverse-proxy mode's limits, read and checked with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ProxySettings, SettingsError, load_settings


def test_defaults() -> None:
    proxy = load_settings(None, {}).proxy
    assert proxy == ProxySettings(3.0, 30.0, 10 * 1024 * 1024, "", False)


def test_read_from_the_file_and_variables(tmp_path: Path) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(
        '[proxy]\nconnect_timeout = 1.5\nmax_body_bytes = 1024\nca_bundle = "/etc/ca.pem"\n'
    )
    proxy = load_settings(config, {"TRACKWAY_PROXY_REDIRECT_HTTP": "true"}).proxy
    assert proxy == ProxySettings(1.5, 30.0, 1024, "/etc/ca.pem", True)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[proxy]\nconnect_timeout = 0\n", "proxy.connect_timeout: more than 0, at most 300"),
        ("[proxy]\nconnect_timeout = nan\n", "proxy.connect_timeout: expected a finite"),
        ("[proxy]\nread_timeout = -1\n", "proxy.read_timeout: more than 0, at most 3600"),
        ("[proxy]\nread_timeout = 3601\n", "proxy.read_timeout: more than 0, at most 3600"),
        ("[proxy]\nmax_body_bytes = -1\n", "proxy.max_body_bytes: from 0 to"),
        ("[proxy]\nmax_body_bytes = 'big'\n", "proxy.max_body_bytes: expected an integer"),
        ("[proxy]\nredirect_http = 3\n", "proxy.redirect_http: expected"),
        ("[proxy]\nupstream = 'x'\n", "unknown setting: proxy.upstream"),
    ],
)
def test_out_of_range_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as raised:
        load_settings(config, {})
    assert str(raised.value).startswith(message)
