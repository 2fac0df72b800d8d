"""Make tracked links: `{base_url}/c/{token}`."""

from __future__ import annotations

from redirector.links.keyring import KeyRing
from redirector.links.tokens import Claims, sign


class LinkSigner:
    def __init__(self, ring: KeyRing, base_url: str) -> None:
        self.ring = ring
        self.base_url = base_url.rstrip("/")

    def tracked_url(self, claims: Claims) -> str:
        return f"{self.base_url}/c/{sign(claims, self.ring.signing_key)}"

    def open_url(self, claims: Claims) -> str:
        """The open pixel's URL; its claims carry no destination, so it never redirects."""
        return f"{self.base_url}/o/{sign(claims, self.ring.signing_key)}"
