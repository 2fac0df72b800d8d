"""Who answers a request to the public listener, by its host and path. Pure.

A proxied host's requests go to its upstream, but for the paths trackway answers
itself on every host (ACME HTTP-01 challenges, the domain check, the app-link files):
those prove or describe the domain, so the platform behind it must not answer them. An
app-link file that the proxied host has not set is the platform's to answer: forwarded.
A host that is not one of ours gets only those paths; anything else is misdirected
(421, RFC 9110 §15.5.20): trackway connects nowhere for it. The caller serves a link
that verifies (signed by us) whatever its Host: refusing it would lose a real click.
"""

from __future__ import annotations

from typing import Final

# The app-link files (Apple's associated domains, Android's Digital Asset Links):
# answered by trackway on every host, never redirected; forwarded only when a proxied
# host has not set the file asked for.
APP_LINK_PATHS: Final = (
    "/.well-known/apple-app-site-association",
    "/apple-app-site-association",
    "/.well-known/assetlinks.json",
)
HEALTH_PATH: Final = "/healthz"

CLICKS: Final = "clicks"  # trackway's own routes: the click path's handler answers
FORWARD: Final = "forward"  # to the host's upstream
TO_HTTPS: Final = "to_https"  # 308 to the same URL over https
MISDIRECTED: Final = "misdirected"  # 421


def request_host(authority: str) -> str:
    """The host a request names (`Links.Example.com.:8080` -> `links.example.com`,
    `[2001:db8::1]:80` -> `2001:db8::1`)."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    if authority.count(":") == 1:
        authority = authority.partition(":")[0]
    return authority.rstrip(".")


def is_own_path(path: str, own_paths: tuple[str, ...]) -> bool:
    """`own_paths`: prefixes (ending in `/`) and whole paths trackway answers on every
    host."""
    return any(path.startswith(own) if own.endswith("/") else path == own for own in own_paths)


def decide(
    path: str,
    *,
    scheme: str,
    proxied: bool,
    ours: bool,
    own_paths: tuple[str, ...],
    redirect_http: bool,
    app_link_set: bool = False,
) -> str:
    """`proxied`: the host has an upstream; `ours`: it is one of our tracking hosts;
    `app_link_set`: it has the app-link file `path` asks for, if it asks for one."""
    if is_own_path(path, own_paths) and not (
        proxied and not app_link_set and path in APP_LINK_PATHS
    ):
        return CLICKS
    if proxied:
        return TO_HTTPS if redirect_http and scheme == "http" else FORWARD
    if not ours and path != HEALTH_PATH:
        return MISDIRECTED
    return CLICKS
