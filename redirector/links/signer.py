"""Make tracked links: `{base_url}/c/{token}`, and `{base_url}/a/{token}` for app links.

An app link's token is the same token as a plain tracked link's: the path's prefix only
selects how the click server answers (`/a/` may answer an app's JSON request with the
destination instead of a redirect), and the kind is not signed. So `/c/<token>` of an
app link's token works as any tracked link (a browser's redirect), and `/a/<token>` of
a plain one as an app link: either way the same signed destination, nothing more.
`/a/` exists so that an association file (AASA, assetlinks.json) can claim `/a/*`
alone, and ordinary links, unsubscribe links and the open pixel never open the app.
"""

from __future__ import annotations

from redirector.links.keyring import KeyRing
from redirector.links.tokens import Claims, sign

CLICK_PREFIX = "/c/"
APP_LINK_PREFIX = "/a/"
OPEN_PREFIX = "/o/"


class LinkSigner:
    def __init__(self, ring: KeyRing, base_url: str) -> None:
        self.ring = ring
        self.base_url = base_url.rstrip("/")

    def tracked_url(self, claims: Claims, app_link: bool = False) -> str:
        """`app_link`: under `/a/`, the prefix the app's association files claim."""
        prefix = APP_LINK_PREFIX if app_link else CLICK_PREFIX
        return f"{self.base_url}{prefix}{sign(claims, self.ring.signing_key)}"

    def open_url(self, claims: Claims) -> str:
        """The open pixel's URL; its claims carry no destination, so it never redirects."""
        return f"{self.base_url}{OPEN_PREFIX}{sign(claims, self.ring.signing_key)}"
