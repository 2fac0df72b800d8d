"""Links: signed tokens, the key ring, and rewriting the links of an email.

A sender's whole API::

    ring = load_keyring(data_dir, now)
    rewriter = Rewriter(LinkSigner(ring, "https://links.example.com"))
    result = rewriter.rewrite_html(html, SendContext("msg-1", "rcpt-1", sent_at=now))
    result.body, result.report()
"""

from redirector.links.errors import (
    BadSignature,
    KeyRingError,
    MalformedToken,
    RetiredKey,
    TokenError,
    UnknownKey,
    UnknownVersion,
)
from redirector.links.keyring import KeyRing, SigningKey
from redirector.links.keystore import load_keyring, retire_key, rotate_key
from redirector.links.signer import LinkSigner
from redirector.links.tokens import Claims, sign, verify
from redirector.rewrite.link_rules import LinkRules
from redirector.rewrite.rewriter import LinkReport, Rewriter, RewriteResult, SendContext

__all__ = [
    "BadSignature",
    "Claims",
    "KeyRing",
    "KeyRingError",
    "LinkReport",
    "LinkRules",
    "LinkSigner",
    "MalformedToken",
    "RetiredKey",
    "RewriteResult",
    "Rewriter",
    "SendContext",
    "SigningKey",
    "TokenError",
    "UnknownKey",
    "UnknownVersion",
    "load_keyring",
    "retire_key",
    "rotate_key",
    "sign",
    "verify",
]
