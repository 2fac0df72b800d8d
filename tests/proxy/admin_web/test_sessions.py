"""The admin page's sessions and CSRF tokens, without a server (pure)."""

from __future__ import annotations

import itertools

from proxy.admin.web.sessions import SESSION_SECONDS, Sessions, same_secret

NOW = 1_800_000_000.0


def counting_sessions(limit: int = 256) -> Sessions:
    numbers = itertools.count()
    return Sessions(limit=limit, make_secret=lambda: f"secret-{next(numbers)}")


def test_only_the_admin_token_opens_a_session() -> None:
    sessions = counting_sessions()
    for wrong in [None, "", "nope", "tokeN", "token ", "token\x00", "tökén"]:
        assert sessions.login("token", wrong, NOW) is None
    assert len(sessions) == 0
    session = sessions.login("token", "token", NOW)
    assert session is not None
    assert sessions.find(session.id, NOW) is session
    assert session.csrf != session.id


def test_an_empty_admin_token_opens_nothing() -> None:
    assert not same_secret("", "")
    assert counting_sessions().login("", "", NOW) is None


def test_sessions_expire_and_end_at_logout() -> None:
    sessions = counting_sessions()
    first = sessions.login("t", "t", NOW)
    second = sessions.login("t", "t", NOW)
    assert first is not None
    assert second is not None
    assert sessions.find(first.id, NOW + SESSION_SECONDS - 1) is first
    assert sessions.find(first.id, NOW + SESSION_SECONDS) is None
    assert len(sessions) == 1  # the expired one is forgotten
    sessions.logout(second.id)
    assert sessions.find(second.id, NOW) is None
    assert sessions.find(None, NOW) is None
    assert sessions.find("", NOW) is None


def test_the_oldest_session_goes_past_the_limit() -> None:
    sessions = counting_sessions(limit=2)
    opened = [sessions.login("t", "t", NOW + i) for i in range(3)]
    assert [s is not None and sessions.find(s.id, NOW + 3) is not None for s in opened] == [
        False,
        True,
        True,
    ]


def test_csrf_is_the_sessions_own() -> None:
    sessions = counting_sessions()
    one, other = sessions.login("t", "t", NOW), sessions.login("t", "t", NOW)
    assert one is not None
    assert other is not None
    assert one.csrf_ok(one.csrf)
    for wrong in [None, "", other.csrf, one.id, one.csrf + "x", one.csrf[:-1]]:
        assert not one.csrf_ok(wrong)


def test_a_notice_is_said_once() -> None:
    session = counting_sessions().login("t", "t", NOW)
    assert session is not None
    session.notice = "Added example.com"
    assert session.take_notice() == "Added example.com"
    assert session.take_notice() is None
