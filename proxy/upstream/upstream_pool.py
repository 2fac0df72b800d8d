"""Connections to the upstreams for the proxy's fast path: made, verified and pooled.
Network I/O.

Names resolve through the resolver the aiohttp forwarder uses too (`[dns] nameservers`
when set, else the system's), each kept `DNS_CACHE_SECONDS`; TLS is verified against
the upstream's name, which is also the SNI, with the system's CAs and `[proxy]
ca_bundle` (`upstream_tls`, for both paths). A connection whose answer ended cleanly
goes back to its upstream's pool (HTTP/1.1 keep-alive), newest first; one the upstream
closes while idle leaves it, and one idle for `IDLE_SECONDS` is closed by trackway.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from typing import TYPE_CHECKING

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import AsyncResolver, ThreadedResolver

from config import DnsSettings, ProxySettings
from proxy.upstream.route import UpstreamRoute

if TYPE_CHECKING:
    from proxy.upstream.relay import UpstreamConnection

# SparkPost asks proxies to look its name up again every 10 s (`resolver … valid=10s`):
# the platforms move their tracking hosts between addresses.
DNS_CACHE_SECONDS = 10
# Idle connections kept per upstream: more than a worker's busiest moment needs.
MAX_IDLE = 256
# How long a connection stays idle in the pool. A connection a NAT or firewall forgot
# looks open but swallows the next request (a 504 after `read_timeout`); the platforms'
# servers close idle ones after about this long anyway (nginx and aiohttp: 75 s, AWS
# load balancers: 60 s; some far sooner), and a new one costs one round trip.
IDLE_SECONDS = 10.0

Key = tuple[str, str, int]  # scheme, upstream host, port


class UpstreamFailure(Exception):
    """A forward that failed: the status trackway answers, and the reason counted."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.status = status
        self.reason = reason


def upstream_tls(settings: ProxySettings) -> ssl.SSLContext:
    """Whom trackway trusts for an upstream's TLS: the system's CAs and `[proxy]
    ca_bundle`; used by both forwarders and by the domain checks' upstream probe, so
    the status says `ok` only for an upstream the forwarders would reach too."""
    context = ssl.create_default_context()
    if settings.ca_bundle:
        context.load_verify_locations(settings.ca_bundle)
    return context


def upstream_resolver(dns: DnsSettings) -> AbstractResolver:
    """In a running loop."""
    if dns.nameservers:
        return AsyncResolver(nameservers=list(dns.nameservers), timeout=dns.timeout, tries=2)
    return ThreadedResolver()


def key_of(route: UpstreamRoute) -> Key:
    return (route.scheme, route.upstream_host, route.port)


class UpstreamPool:
    def __init__(self, proxy: ProxySettings, dns: DnsSettings) -> None:
        self.settings = proxy
        self.dns = dns
        self.idle: dict[Key, list[UpstreamConnection]] = {}
        self._tls: ssl.SSLContext | None = None
        self._resolver: AbstractResolver | None = None
        self._names: dict[str, tuple[float, list[str]]] = {}  # name -> (until, addresses)
        self._expiry: asyncio.TimerHandle | None = None

    def take(self, route: UpstreamRoute) -> UpstreamConnection | None:
        """An idle connection to `route`'s upstream, or None."""
        idle = self.idle.get(key_of(route))
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable() and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()  # newest first: the rest are as stale
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """`conn`'s answer ended cleanly: the next request to its upstream may use it."""
        idle = self.idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)
        if self._expiry is None:
            self._expiry = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._expire)

    def _expire(self) -> None:
        """Close the connections idle for `IDLE_SECONDS`; again when the next one is due."""
        self._expiry = None
        now = time.monotonic()
        due: float | None = None
        for idle in self.idle.values():
            # Oldest first: the stale ones are at the front.
            while idle and now - idle[0].idle_since >= IDLE_SECONDS:
                idle.pop(0).close()
            if idle and (due is None or idle[0].idle_since < due):
                due = idle[0].idle_since
        if due is not None:
            delay = max(due + IDLE_SECONDS - now, 0.0)
            self._expiry = asyncio.get_running_loop().call_later(delay, self._expire)

    def forget(self, conn: UpstreamConnection) -> None:
        """`conn` closed."""
        idle = self.idle.get(conn.key)
        if idle is not None and conn in idle:
            idle.remove(conn)

    async def connect(self, route: UpstreamRoute, conn: UpstreamConnection) -> None:
        """Connect `conn` (a new one) to `route`'s upstream within `connect_timeout`, TLS
        included; UpstreamFailure says why not."""
        addresses = await self._addresses(route.upstream_host)
        loop = asyncio.get_running_loop()
        tls = None
        if route.scheme == "https":
            if self._tls is None:
                self._tls = upstream_tls(self.settings)
            tls = self._tls
        timeout = self.settings.connect_timeout
        error: OSError | None = None
        try:
            async with asyncio.timeout(timeout):
                for address in addresses:
                    try:
                        await loop.create_connection(
                            lambda: conn,
                            address,
                            route.port,
                            ssl=tls,
                            server_hostname=route.upstream_host if tls is not None else None,
                            ssl_handshake_timeout=timeout if tls is not None else None,
                        )
                        return
                    except ssl.SSLError as e:
                        raise UpstreamFailure(502, "tls", repr(e)) from None
                    except OSError as e:
                        error = e  # the next address, if any
        except TimeoutError:
            raise UpstreamFailure(504, "connect_timeout", f"over {timeout} s") from None
        raise UpstreamFailure(502, "refused", repr(error))

    async def _addresses(self, name: str) -> list[str]:
        try:
            ipaddress.ip_address(name)
            return [name]
        except ValueError:
            pass
        now = time.monotonic()
        cached = self._names.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        if self._resolver is None:
            self._resolver = upstream_resolver(self.dns)
        try:
            found = await self._resolver.resolve(name, 0, socket.AF_UNSPEC)
        except Exception as e:  # OSError from either resolver, whatever went wrong
            raise UpstreamFailure(502, "dns", repr(e)) from None
        addresses = list(dict.fromkeys(str(r["host"]) for r in found))
        if not addresses:
            raise UpstreamFailure(502, "dns", f"no address for {name}")
        self._names[name] = (now + DNS_CACHE_SECONDS, addresses)
        return addresses

    async def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for idle in self.idle.values():
            for conn in idle:
                conn.close()
        self.idle.clear()
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None
