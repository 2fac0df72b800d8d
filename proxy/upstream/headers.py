"""The headers a forwarded request and its answer carry. Pure.

Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the message: each is
removed both ways, with every header the `Connection` header names. The forwarding
headers say what trackway saw: `X-Forwarded-For` gets the peer's address appended (to
an incoming value only when the peer is a proxy of ours: a client's own value is a
claim anyone can make), `X-Forwarded-Proto` the scheme the request came in by,
`X-Forwarded-Host` the custom host. Everything else (User-Agent, cookies …) is kept.
An answer gets one header more, `Proxy-Status: trackway; received-status=NNN` (RFC 9209),
after any the upstream sent: what says the answer came from the upstream through us, to
a client as to the domain checks' request through trackway.
"""

from __future__ import annotations

from collections.abc import Iterable

from redirector.clicks.client_address import TrustedProxies, parse_address

Headers = list[tuple[str, str]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",  # not standard, but sent by old clients
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
FRAMING = frozenset({"content-length", "transfer-encoding"})
# What a client could forge to pass for someone else: believed from our proxies only.
FORWARDING = frozenset(
    {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip"}
)


def connection_scoped(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The lowercase names of the headers that end at this hop: the fixed ones, and
    those the `Connection` header names."""
    named = {
        option.strip(" \t").lower()
        for name, value in headers
        if name.lower() == "connection"
        for option in value.split(",")
    }
    return HOP_BY_HOP | (named - {""})


def _end_to_end(headers: Headers) -> Headers:
    """`Proxy-*` headers are for a proxy (credentials, old connection options), but
    `Proxy-Status`: every intermediary adds its member to it for the client."""
    scoped = connection_scoped(headers)
    return [
        (name, value)
        for name, value in headers
        if (lower := name.lower()) not in scoped
        and (not lower.startswith("proxy-") or lower == "proxy-status")
    ]


def request_headers(
    headers: Headers,
    *,
    host_header: str,
    custom_host: str,
    scheme: str,
    peer: str,
    proxies: TrustedProxies,
    trusted: bool | None = None,
) -> Headers:
    """The headers sent upstream for a request that came in with `headers` from `peer`
    (the connection's address) by `scheme`. `host_header`: the route's Host value;
    `trusted`: `is_trusted(peer, proxies)` when known (once a connection)."""
    if trusted is None:
        trusted = is_trusted(peer, proxies)
    kept: Headers = []
    forwarded_for: list[str] = []
    for name, value in _end_to_end(headers):
        lower = name.lower()
        if lower == "host" or lower == "x-forwarded-proto" or lower == "x-forwarded-host":
            continue  # set below, from what trackway saw
        if lower in FORWARDING and not trusted:
            continue
        if lower == "x-forwarded-for":
            forwarded_for.append(value)
            continue
        kept.append((name, value))
    forwarded_for.append(peer)
    return [
        ("Host", host_header),
        *kept,
        ("X-Forwarded-For", ", ".join(forwarded_for)),
        ("X-Forwarded-Proto", scheme),
        ("X-Forwarded-Host", custom_host),
    ]


def framed(headers: Headers, length: int | None) -> Headers:
    """`headers` with the framing trackway sends: the sender's framing headers (or
    what is left of them after the rules above) dropped, and `Content-Length: length`
    (None: none; the caller frames otherwise). A message's end is never the sender's
    word passed on: headers it names hop-by-hop would move it."""
    kept = [(n, v) for n, v in headers if n.lower() not in FRAMING]
    return kept if length is None else [*kept, ("Content-Length", str(length))]


PROXY_NAME = "trackway"  # our member of `Proxy-Status`


def response_headers(headers: Headers, received_status: int | None = None) -> Headers:
    """The upstream's answer's headers as the client gets them: all but hop-by-hop, and
    our `Proxy-Status` member for an answer of `received_status`."""
    kept = _end_to_end(headers)
    if received_status is not None:
        kept.append(("Proxy-Status", f"{PROXY_NAME}; received-status={received_status}"))
    return kept


def our_proxy_status(values: Iterable[str]) -> dict[str, str] | None:
    """The parameters of our member of `Proxy-Status` (every value of the header, in
    order; the last member of ours, the one nearest the client), or None."""
    ours = None
    for member in ",".join(values).split(","):
        name, *params = member.split(";")
        if name.strip() == PROXY_NAME:
            ours = {}
            for param in params:
                key, _, value = param.strip().partition("=")
                ours[key] = value.strip('"')
    return ours


def is_trusted(peer: str, proxies: TrustedProxies) -> bool:
    if proxies.any_peer:
        return True
    address = parse_address(peer)
    return address is not None and address in proxies
