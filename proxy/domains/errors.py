"""Why a domain operation cannot be done, by kind (see `config.errors`)."""

from __future__ import annotations

from config.errors import Conflict, InvalidInput, NotFound, TrackwayError


class DomainError(TrackwayError):
    """A domain operation that cannot be done, with a message for the user."""


class InvalidDomain(DomainError, InvalidInput):
    """A name that is no domain, a host outside its domain, an unknown region."""


class UnknownDomain(DomainError, NotFound):
    """No such sending domain or tracking host."""


class DomainConflict(DomainError, Conflict):
    """The tracking host belongs to another sending domain."""


class HostNotReady(DomainError, Conflict):
    """A certificate asked for a tracking host whose last checks say the CA could not
    validate it now. A conflict with the host's state, not bad input: the same request
    succeeds once DNS and HTTP are right (or with force)."""


class HostProxied(DomainError, Conflict):
    """Links asked of a sending domain whose tracking host is in proxy mode: the email
    platform behind it makes that host's links, not trackway."""
