"""The admin page's login sessions, kept in memory. Pure: times are given (`now`),
secrets come from the function given.

A session is opened by the admin token and ends at its expiry or at logout; the server's
restart ends them all (one process serves the admin listener). Each session has its own
CSRF token, which every state-changing form sends back.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["MAX_SESSIONS", "SESSION_SECONDS", "Session", "Sessions", "same_secret"]

SESSION_SECONDS = 12 * 3600
# Only the token opens a session, so this bounds memory against a script that logs in
# again and again, not against strangers; the oldest sessions go first.
MAX_SESSIONS = 256


def same_secret(expected: str, given: str | None) -> bool:
    """Whether `given` is `expected`, in a time that does not say how much of it matched."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


@dataclass
class Session:
    id: str
    csrf: str
    expires: float
    notice: str | None = None  # said once on the next page: what the last form did

    def csrf_ok(self, given: str | None) -> bool:
        return same_secret(self.csrf, given)

    def take_notice(self) -> str | None:
        notice, self.notice = self.notice, None
        return notice


class Sessions:
    def __init__(
        self,
        lifetime: float = SESSION_SECONDS,
        limit: int = MAX_SESSIONS,
        make_secret: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self.lifetime = lifetime
        self.limit = limit
        self.make_secret = make_secret
        self._open: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._open)

    def login(self, expected_token: str, given_token: str | None, now: float) -> Session | None:
        """A new session when `given_token` is the admin token; else None."""
        if not same_secret(expected_token, given_token):
            return None
        self._forget_expired(now)
        while len(self._open) >= self.limit:
            oldest = min(self._open.values(), key=lambda s: s.expires)
            del self._open[oldest.id]
        session = Session(self.make_secret(), self.make_secret(), now + self.lifetime)
        self._open[session.id] = session
        return session

    def find(self, session_id: str | None, now: float) -> Session | None:
        """The open session of that id. A dictionary look-up: its timing depends on the
        id's hash, not on how much of a secret 256-bit id was guessed right."""
        session = self._open.get(session_id) if session_id else None
        if session is None:
            return None
        if session.expires <= now:
            del self._open[session.id]
            return None
        return session

    def logout(self, session_id: str) -> None:
        self._open.pop(session_id, None)

    def _forget_expired(self, now: float) -> None:
        for session in [s for s in self._open.values() if s.expires <= now]:
            del self._open[session.id]
