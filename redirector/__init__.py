"""The link side of trackway: signed links, rewriting emails, answering and recording clicks.

- `redirector.links`: tokens (sign, verify), the key ring and its file, id packing.
- `redirector.rewrite`: the sender's library: an email's links rewritten into signed
  links, every other byte kept. Needs no server.
- `redirector.clicks`: the public click path: the HTTP fast path, request heads, routes.
- `redirector.recording`: hits → spool → loader → event store; bot and burst verdicts.
- `redirector.metrics`: the click path's Prometheus metrics.

Imports only `config` of ours (never `certs` or `proxy`). A sender's whole API::

    ring = load_keyring(data_dir, now)
    rewriter = Rewriter(LinkSigner(ring, "https://links.example.com"))
    result = rewriter.rewrite_html(html, SendContext("msg-1", "rcpt-1", sent_at=now))
    result.body, result.report()
"""

from redirector.links import (
    BadSignature,
    Claims,
    KeyRing,
    KeyRingError,
    LinkSigner,
    MalformedToken,
    RetiredKey,
    SigningKey,
    TokenError,
    UnknownKey,
    UnknownVersion,
    load_keyring,
    retire_key,
    rotate_key,
    sign,
    verify,
)
from redirector.rewrite import LinkReport, LinkRules, Rewriter, RewriteResult, SendContext

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
