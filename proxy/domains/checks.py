"""The checks behind a tracking host's status: DNS, HTTP, HSTS, HTTPS, and a proxied
host's upstream. Network I/O.

Every name is resolved through the configured nameservers (aiodns, and aiohttp's
AsyncResolver on top of it), so that what we check is what the world's DNS says, and
every failure becomes a result with its reason, never an exception. HTTP connections
go only to the addresses `addresses.refusal` allows, filtered among those resolved, so
that the refusal holds for the very addresses connected to.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import ipaddress
import socket
import ssl
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import aiodns
import aiohttp
import hstspreload
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import AsyncResolver

from config import CheckSettings, DnsSettings, ProxySettings
from proxy.domains.addresses import IPNetwork, allowed_networks, refusal, refused
from proxy.domains.hsts import StsPolicy, names_to_check, parse_sts
from proxy.domains.status import DnsAnswer, HstsFinding, Probe
from proxy.upstream.headers import our_proxy_status
from proxy.upstream.route import UpstreamRoute
from proxy.upstream.upstream_pool import upstream_tls

CHECK_PATH = "/.well-known/trackway/check/"
MAX_CNAME_CHAIN = 8
_DNS_ERRORS = {
    aiodns.error.ARES_ENOTFOUND: "NXDOMAIN",
    aiodns.error.ARES_ENODATA: "no data",
    aiodns.error.ARES_ESERVFAIL: "SERVFAIL",
    aiodns.error.ARES_ETIMEOUT: "timeout",
    aiodns.error.ARES_ECONNREFUSED: "connection refused",
    aiodns.error.ARES_EREFUSED: "REFUSED",
}


def host_token(secret: bytes, host: str) -> str:
    """What `GET /.well-known/trackway/check/<token>` must return for `host`: derived,
    not stored, so every worker answers it without reading anything."""
    mac = hmac.digest(secret, host.lower().rstrip(".").encode("idna"), "sha256")
    return base64.urlsafe_b64encode(mac[:18]).decode("ascii")


def _dns_error(e: aiodns.error.DNSError) -> str:
    code = e.args[0] if e.args else None
    return _DNS_ERRORS.get(code, str(e.args[1] if len(e.args) > 1 else e))


@dataclass
class Checker:
    checks: CheckSettings
    resolver: aiodns.DNSResolver
    session: aiohttp.ClientSession
    tls: ssl.SSLContext
    allowed: tuple[IPNetwork, ...] = ()
    upstream_tls: ssl.SSLContext | None = None  # default: `tls`

    async def cname_chain(self, host: str) -> DnsAnswer:
        chain: list[str] = []
        name = host
        for _ in range(MAX_CNAME_CHAIN):
            try:
                result = await self.resolver.query_dns(name, "CNAME")
            except aiodns.error.DNSError as e:
                code = e.args[0] if e.args else None
                if code in (aiodns.error.ARES_ENODATA, aiodns.error.ARES_ENOTFOUND) and (
                    chain or code == aiodns.error.ARES_ENODATA
                ):
                    return DnsAnswer(tuple(chain))  # the chain ends here
                return DnsAnswer(tuple(chain), _dns_error(e))
            targets = [getattr(r.data, "cname", "") for r in result.answer if r.type == 5]
            if not targets:
                return DnsAnswer(tuple(chain))
            name = targets[0].rstrip(".")
            chain.append(name)
        return DnsAnswer(tuple(chain), "CNAME chain too long")

    async def txt_values(self, name: str) -> tuple[list[str], str | None]:
        try:
            result = await self.resolver.query_dns(name, "TXT")
        except aiodns.error.DNSError as e:
            code = e.args[0] if e.args else None
            if code in (aiodns.error.ARES_ENODATA, aiodns.error.ARES_ENOTFOUND):
                return [], None
            return [], _dns_error(e)
        values = []
        for record in result.answer:
            data = getattr(record.data, "data", b"")
            values.append(
                data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            )
        return values, None

    async def _get(self, url: str, host: str, use_tls: bool) -> tuple[int, str, str | None]:
        """Status, body and the first STS header of `url`, sent to `host`; AddressRefused
        when `host` is, or resolves only to, an address the checks do not connect to."""
        _refuse_an_address(host, self.allowed)
        timeout = aiohttp.ClientTimeout(total=self.checks.timeout)
        async with self.session.get(
            url,
            allow_redirects=False,
            timeout=timeout,
            ssl=self.tls if use_tls else False,
            server_hostname=host if use_tls else None,
        ) as resp:
            body = await resp.content.read(4096)
            return (
                resp.status,
                body.decode("utf-8", "replace"),
                resp.headers.get("Strict-Transport-Security"),
            )

    async def probe(self, host: str, token: str, use_tls: bool) -> Probe:
        checks = self.checks
        scheme, port = ("https", checks.https_port) if use_tls else ("http", checks.http_port)
        url = f"{scheme}://{host}:{port}{CHECK_PATH}{token}"
        try:
            status, body, _ = await self._get(url, host, use_tls)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return _failure(e)
        if status != 200 or body.strip() != token:
            return Probe(False, f"{url} answered {status} without this server's token")
        return Probe(True)

    async def upstream_probe(self, route: UpstreamRoute) -> Probe:
        """Whether the upstream answers `GET /` sent as the forwarder sends requests: the
        Host of the route's policy, TLS verified against the upstream's name (SNI too),
        redirects not followed. Any HTTP answer (a 404 too) is an upstream reached."""
        tls = route.scheme == "https"
        try:
            _refuse_an_address(route.upstream_host, self.allowed)
            async with self.session.get(
                f"{route.upstream}/",
                headers={"Host": route.host_header_value()},
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.checks.timeout),
                ssl=(self.upstream_tls or self.tls) if tls else False,
                server_hostname=route.upstream_host if tls else None,
            ):
                return Probe(True)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return _failure(e)

    async def upstream_through_us(self, host: str) -> Probe:
        """Whether `GET https://host/`, sent to trackway as a browser would, reaches the
        upstream: an answer that our forwarder passed on says so in `Proxy-Status`
        (`received-status`); one that it could not get says why (`error`); any other
        was not forwarded (a server that does not proxy this host, or not yet)."""
        url = f"https://{host}:{self.checks.https_port}/"
        try:
            _refuse_an_address(host, self.allowed)
            async with self.session.get(
                url,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.checks.timeout),
                ssl=self.tls,
                server_hostname=host,
            ) as resp:
                status, ours = (
                    resp.status,
                    our_proxy_status(resp.headers.getall("Proxy-Status", ())),
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return _failure(e)
        if ours is not None and "error" in ours:
            return Probe(False, f"through {url}: trackway answered {status}: {ours['error']}")
        if ours is not None and "received-status" in ours:
            return Probe(True)
        return Probe(
            False,
            f"{url} answered {status}, not forwarded: the server there does not proxy "
            f"{host} (yet)",
        )

    async def https_probe(self, host: str, token: str, have_certificate: bool) -> Probe | None:
        """None (off) when nothing listens for HTTPS and no certificate is ours to serve."""
        result = await self.probe(host, token, use_tls=True)
        if not result.ok and not have_certificate and _refused(result.error):
            return None
        return result

    async def hsts(self, host: str) -> tuple[HstsFinding, ...]:
        findings: list[HstsFinding] = []
        names = names_to_check(host)
        for name in names:
            if preloaded(name):
                findings.append(HstsFinding(name, "preload list", "preloaded"))
                break  # the preload list covers this name and everything below it
        live = await asyncio.gather(*(self._live_sts(name) for name in names))
        for name, policy in zip(names, live, strict=True):
            if policy is None:
                continue
            if name == host.lower().rstrip(".") or policy.include_subdomains:
                findings.append(HstsFinding(name, "header", policy.describe()))
        return tuple(findings)

    async def _live_sts(self, name: str) -> StsPolicy | None:
        """The policy a browser would take from `https://name/` (a verified connection)."""
        url = f"https://{name}:{self.checks.https_port}/"
        try:
            _, _, header = await self._get(url, name, use_tls=True)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None
        return parse_sts(header) if header else None


def preloaded(name: str) -> bool:
    """On the browsers' HSTS preload list (whole TLDs such as .dev and .app included)."""
    with warnings.catch_warnings():
        # hstspreload reads its data with importlib.resources' legacy API.
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(hstspreload.in_hsts_preload(name))


def _failure(e: aiohttp.ClientError | OSError | TimeoutError) -> Probe:
    """A failed request as a probe's reason."""
    if isinstance(e, AddressRefused):
        return Probe(False, str(e))
    if isinstance(e, aiohttp.ClientConnectorCertificateError):
        return Probe(False, f"certificate not trusted: {e.certificate_error}")
    if isinstance(e, aiohttp.ClientSSLError):
        return Probe(False, f"TLS failed: {e}")
    if isinstance(e, aiohttp.ClientConnectorDNSError) and isinstance(e.os_error, AddressRefused):
        return Probe(False, str(e.os_error))  # the resolver's refusal comes so
    return Probe(False, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)


def _refused(error: str | None) -> bool:
    text = (error or "").lower()
    return "refused" in text or "connect call failed" in text or "cannot connect" in text


def tls_context(checks: CheckSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if checks.ca_bundle:
        context.load_verify_locations(checks.ca_bundle)
    return context


def make_resolver(dns: DnsSettings) -> aiodns.DNSResolver:
    return aiodns.DNSResolver(nameservers=_nameservers(dns), timeout=dns.timeout, tries=2)


def _nameservers(dns: DnsSettings) -> list[str] | None:
    return list(dns.nameservers) or None  # None: the system's resolvers


class CheckerSettings(Protocol):
    """What a checker uses of the settings (`Settings`, `DomainSettings`)."""

    @property
    def checks(self) -> CheckSettings: ...
    @property
    def dns(self) -> DnsSettings: ...
    @property
    def proxy(self) -> ProxySettings: ...


class AddressRefused(OSError):
    """The checks do not connect to that address; the message says why, and how to
    allow it."""


def _refuse_an_address(host: str, allowed: tuple[IPNetwork, ...]) -> None:
    """AddressRefused when `host` is an address the checks do not connect to: aiohttp
    connects to an address as it is, without asking the resolver."""
    address = host.strip("[]")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return  # a name: GuardedResolver filters its addresses
    _check_address(address, address, allowed)


def _check_address(host: str, address: str, allowed: tuple[IPNetwork, ...]) -> None:
    kind = refusal(address, allowed)
    if kind is not None:
        raise AddressRefused(refused(host, address, kind))


class GuardedResolver(AbstractResolver):
    """`inner`'s addresses for a name, less those the checks do not connect to;
    AddressRefused when none is left. aiohttp connects to exactly what this returns."""

    def __init__(self, inner: AbstractResolver, allowed: tuple[IPNetwork, ...]) -> None:
        self.inner = inner
        self.allowed = allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        kept = [r for r in found if refusal(r["host"], self.allowed) is None]
        if not kept and found:
            _check_address(host, found[0]["host"], self.allowed)
        return kept

    async def close(self) -> None:
        await self.inner.close()


@contextlib.asynccontextmanager
async def open_checker(settings: CheckerSettings) -> AsyncIterator[Checker]:
    """A checker whose HTTP requests, too, resolve names through the configured DNS, and
    connect only where `[checks] allowed_networks` and `addresses.refusal` allow. An
    upstream's TLS is verified as the forwarder does (`[proxy]`'s trust)."""
    checks, dns = settings.checks, settings.dns
    allowed = allowed_networks(checks.allowed_networks)
    resolver = GuardedResolver(
        AsyncResolver(nameservers=_nameservers(dns), timeout=dns.timeout, tries=2), allowed
    )
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        trust = upstream_tls(settings.proxy)
        yield Checker(checks, make_resolver(dns), session, tls_context(checks), allowed, trust)
