"""Signed links: the token format (sign, verify), the key ring and its file, id packing.

Pure but for `keystore` (the key ring's file in the data folder). Imports only
`config` of ours. Newest key signs, every unretired key verifies: rotation.
"""

from redirector.links.errors import (
    BadSignature,
    KeyRingError,
    MalformedToken,
    RetiredKey,
    TokenError,
    UnknownKey,
    UnknownKeyId,
    UnknownVersion,
)
from redirector.links.ids import new_ulid
from redirector.links.keyring import KeyRing, SigningKey
from redirector.links.keystore import KEYS_FILE, load_keyring, retire_key, rotate_key
from redirector.links.signer import LinkSigner
from redirector.links.tokens import Claims, sign, verify

__all__ = [
    "KEYS_FILE",
    "BadSignature",
    "Claims",
    "KeyRing",
    "KeyRingError",
    "LinkSigner",
    "MalformedToken",
    "RetiredKey",
    "SigningKey",
    "TokenError",
    "UnknownKey",
    "UnknownKeyId",
    "UnknownVersion",
    "load_keyring",
    "new_ulid",
    "retire_key",
    "rotate_key",
    "sign",
    "verify",
]
