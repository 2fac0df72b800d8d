"""A wrong settings file is fixed in one go: the loader names every wrong key, a line
each, not just the first (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load_settings


def errors(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> list[str]:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as raised:
        load_settings(config, env or {})
    return str(raised.value).splitlines()


def test_every_kind_of_error_at_once(tmp_path: Path) -> None:
    toml = """
colour = "blue"
[serer]
http = "0.0.0.0:80"
[server]
htp = "0.0.0.0:80"
workers = -1
idle_seconds = "slow"
admin = "nowhere"
[clicks]
client_ip = "partial"
burst_links = 1
[acme]
key_type = "dsa"
"""
    assert errors(tmp_path, toml) == [
        "unknown setting: colour",
        "unknown section: serer (did you mean server?)",
        "unknown setting: server.htp (did you mean server.http?)",
        "server.idle_seconds: expected a finite number, got 'slow'",
        "server.workers: from 0 to 1024 (0: one per core), got -1",
        "server.admin: expected HOST:PORT, got 'nowhere'",
        "clicks.client_ip: one of full, anonymised, none",
        "clicks.burst_links: from 2 to 1000 links, got 1",
        "acme.key_type: one of ecdsa, rsa",
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[acme]\nchalenge = 'http-01'\n",
            "unknown setting: acme.chalenge (did you mean acme.challenge?)",
        ),
        ("[dns]\ntimeut = 3\n", "unknown setting: dns.timeut (did you mean dns.timeout?)"),
        ("[proxies]\nread_timeout = 3\n", "unknown section: proxies (did you mean proxy?)"),
        ("[region]\nus = 't.example'\n", "unknown section: region (did you mean regions?)"),
        ("base_ur = 'https://t.example'\n", "unknown setting: base_ur (did you mean base_url?)"),
        # Nothing close: no guess.
        ("[server]\nzzz = 1\n", "unknown setting: server.zzz"),
        ("[telemetry]\non = true\n", "unknown section: telemetry"),
    ],
)
def test_an_unknown_key_suggests_the_known_one_it_looks_like(
    tmp_path: Path, toml: str, message: str
) -> None:
    assert errors(tmp_path, toml) == [message]


def test_every_wrong_item_of_a_list_or_table(tmp_path: Path) -> None:
    toml = """
[server]
trusted_proxies = ["10.0.0.0/8", "bad", "fe80::/10", "worse"]
[regions]
us = "127.0.0.1"
eu = "t-eu.example"
ap = "a/b"
"""
    assert errors(tmp_path, toml) == [
        "server.trusted_proxies: 'bad' is not an address or a network such as 10.0.0.0/8",
        "server.trusted_proxies: 'worse' is not an address or a network such as 10.0.0.0/8",
        "regions.us: a host name such as t.trackway.example",
        "regions.ap: a host name such as t.trackway.example",
    ]


def test_what_is_wrong_only_together_is_said_too(tmp_path: Path) -> None:
    assert errors(tmp_path, "[acme]\neab_kid = 'kid'\n") == [
        "acme.eab_kid and acme.eab_hmac_key go together"
    ]
    # A wrong value beside it is named as well.
    assert errors(tmp_path, "[acme]\neab_kid = 'kid'\ncheck_interval = 0\n") == [
        "acme.eab_kid and acme.eab_hmac_key go together",
        "acme.check_interval: more than 0, at most 86400 seconds, got 0.0",
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("directory = 'ftp://x'", 'acme.directory: a directory URL, "staging" or "production"'),
        ("key_type = 'dsa'", "acme.key_type: one of ecdsa, rsa"),
        ("check_interval = 0", "acme.check_interval: more than 0, at most 86400 seconds, got 0.0"),
    ],
)
def test_a_pair_given_together_is_not_blamed_for_another_field(
    tmp_path: Path, toml: str, message: str
) -> None:
    """The pair is right together; the third value is the only fault (review finding)."""
    for order in (
        f"eab_kid = 'k'\neab_hmac_key = 'h'\n{toml}\n",
        f"{toml}\neab_kid = 'k'\neab_hmac_key = 'h'\n",
    ):
        assert errors(tmp_path, f"[acme]\n{order}") == [message]


def test_half_a_pair_beside_another_fault_names_both(tmp_path: Path) -> None:
    toml = "[acme]\neab_hmac_key = 'h'\nkey_type = 'dsa'\ndirectory = 'ftp://x'\n"
    assert errors(tmp_path, toml) == [
        "acme.eab_kid and acme.eab_hmac_key go together",
        "acme.key_type: one of ecdsa, rsa",
        'acme.directory: a directory URL, "staging" or "production"',
    ]


def test_errors_from_variables_name_the_variable_among_the_file_s(tmp_path: Path) -> None:
    env = {"TRACKWAY_CLICKS_BURST_LINKS": "1", "TRACKWAY_DNS_TIMEUT": "3"}
    assert errors(tmp_path, "[server]\nworkers = -1\n", env) == [
        "server.workers: from 0 to 1024 (0: one per core), got -1",
        "$TRACKWAY_CLICKS_BURST_LINKS: clicks.burst_links: from 2 to 1000 links, got 1",
        "$TRACKWAY_DNS_TIMEUT: unknown setting: dns.timeut (did you mean TRACKWAY_DNS_TIMEOUT?)",
    ]


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("TRACKWAY_SERVER_WOKERS", "server.wokers (did you mean TRACKWAY_SERVER_WORKERS?)"),
        ("TRACKWAY_BASE_UR", "base_ur (did you mean TRACKWAY_BASE_URL?)"),
        ("TRACKWAY_ACME_EAB_KI", "acme.eab_ki (did you mean TRACKWAY_ACME_EAB_KID?)"),
    ],
)
def test_a_misspelt_variable_suggests_the_variable_to_set(
    tmp_path: Path, variable: str, hint: str
) -> None:
    assert errors(tmp_path, "", {variable: "1"}) == [f"${variable}: unknown setting: {hint}"]


def test_a_section_that_is_no_table_and_its_neighbours(tmp_path: Path) -> None:
    assert errors(tmp_path, "server = 3\n[dns]\ntimeout = 0\n") == [
        "server: expected a table of settings",
        "dns.timeout: more than 0, at most 60 seconds, got 0.0",
    ]


def test_one_error_is_one_line_as_before(tmp_path: Path) -> None:
    assert errors(tmp_path, "[server]\nworkers = 'many'\n") == [
        "server.workers: expected an integer, got 'many'"
    ]
