"""Where a proxied tracking host goes: its upstream and its Host policy. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from config.errors import InvalidInput

# `custom`: the upstream gets the tracking host as Host (the platforms recognise the
# sender's domain by it); `upstream`: the upstream's own name.
HOST_HEADER_POLICIES = ("custom", "upstream")


@dataclass(frozen=True)
class UpstreamRoute:
    """A proxied host: every request to `host` (but trackway's own paths) goes to
    `scheme://upstream_host:port`, and nowhere else."""

    host: str  # the custom tracking host, normalised
    scheme: str  # "http" or "https"
    upstream_host: str  # the platform's host name: DNS name, SNI and certificate name
    port: int
    host_header: str = "custom"

    @property
    def upstream(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{self.upstream_host}{port}"

    def host_header_value(self) -> str:
        """`custom`: the tracking host; `upstream`: the upstream's authority (its name,
        and its port unless the scheme's default, as RFC 9110 §7.2 has it)."""
        if self.host_header == "custom":
            return self.host
        default = 443 if self.scheme == "https" else 80
        return self.upstream_host if self.port == default else f"{self.upstream_host}:{self.port}"


def parse_upstream(host: str, url: str, host_header: str = "custom") -> UpstreamRoute:
    """The route for `host` to `url` (`https://track.customer.io`): only a scheme, a host
    and maybe a port; InvalidInput says what is wrong."""
    if host_header not in HOST_HEADER_POLICIES:
        raise InvalidInput(f"--host-header: one of {', '.join(HOST_HEADER_POLICIES)}")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidInput(f"upstream {url!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"upstream {url!r}: expected http(s)://HOST[:PORT]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InvalidInput(
            f"upstream {url!r}: only a scheme, a host and a port (the path, query and "
            "credentials come from each request)"
        )
    default = 443 if parts.scheme == "https" else 80
    return UpstreamRoute(host, parts.scheme, parts.hostname.lower(), port or default, host_header)
