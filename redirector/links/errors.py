"""Why a token is not a valid link. Verification raises these and nothing else."""


class TokenError(Exception):
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


class KeyRingError(Exception):
    """The key ring cannot do what was asked (no such key, last signing key, bad file)."""
