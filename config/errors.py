"""The one error tree of trackway.

Every error a user can meet is a `TrackwayError`: its message says what is wrong (and,
where it can, what to do), and its kind says what sort of failure it is. Each package
derives its errors from these kinds; the kinds are mapped once to the command line's
exit status (`proxy/cli/main.py`) and once to the admin API's HTTP status
(`proxy/admin/errors.py`). `config` imports nothing of ours, so every package can use it.
"""


class TrackwayError(Exception):
    """Something asked of trackway cannot be done; the message says why."""


class InvalidInput(TrackwayError):
    """What was given is wrong: a value, a name, a token, a file's contents."""


class NotFound(TrackwayError):
    """What was named does not exist (no such domain, key, host)."""


class Conflict(TrackwayError):
    """What was asked contradicts what exists (a host that belongs to another domain)."""


class Unavailable(TrackwayError):
    """Something it depends on fails now (a database, the CA, DNS): a later try may work."""


class SettingsError(InvalidInput, ValueError):
    """Settings unknown or with a wrong value: a line each, naming the key (every wrong
    key of a file at once)."""
