"""Why a token is not a valid link (verification raises these and nothing else), and
why the key ring cannot do what was asked."""

from config.errors import InvalidInput, NotFound


class TokenError(InvalidInput):
    reason = "invalid"

    def __str__(self) -> str:
        detail = super().__str__()
        return f"{self.reason}: {detail}" if detail else self.reason


class MalformedToken(TokenError):
    reason = "malformed"


class UnknownVersion(TokenError):
    reason = "unknown version"


class UnknownKey(TokenError):
    reason = "unknown key"


class RetiredKey(TokenError):
    reason = "retired key"


class BadSignature(TokenError):
    reason = "bad signature"


class KeyRingError(InvalidInput):
    """The key ring cannot do what was asked (the last signing key, a damaged file)."""


class UnknownKeyId(KeyRingError, NotFound):
    """No key of the ring has that id."""
