"""`[server]` connection settings: deadlines, the connection cap, trusted proxies."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load_settings


def test_defaults() -> None:
    server = load_settings(None, {}).server
    assert (server.idle_seconds, server.head_seconds, server.body_seconds) == (75, 15, 15)
    assert server.max_connections == 0  # from the fd limit
    assert server.trusted_proxies == ()


def test_from_the_environment() -> None:
    server = load_settings(
        None,
        {
            "TRACKWAY_SERVER_IDLE_SECONDS": "30",
            "TRACKWAY_SERVER_MAX_CONNECTIONS": "500",
            "TRACKWAY_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7, 2001:db8::/32",
        },
    ).server
    assert server.idle_seconds == 30
    assert server.max_connections == 500
    assert server.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("idle_seconds = 0", "server.idle_seconds: from 0.1 to 86400 seconds"),
        ("head_seconds = -1", "server.head_seconds: from 0.1"),
        ("body_seconds = nan", "server.body_seconds: expected a finite number"),
        ("idle_seconds = inf", "server.idle_seconds: expected a finite number"),
        ("max_connections = -1", "server.max_connections: from 0 to"),
        ("trusted_proxies = ['10.0.0.0/33']", "server.trusted_proxies: '10.0.0.0/33' is not"),
        ("trusted_proxies = ['proxy.example']", "server.trusted_proxies: 'proxy.example'"),
    ],
)
def test_wrong_values_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(f"[server]\n{toml}\n")
    with pytest.raises(SettingsError, match=message.replace("[", r"\[")):
        load_settings(config, {})
