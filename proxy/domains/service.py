"""Custom tracking domains: add, check, report, remove; and the link base they give.

Used by the CLI, the admin API and the periodic checks of `serve`. A sending domain is
proven by `_trackway.<domain> TXT "trackway-verification=<token>"`; each of its tracking
hosts is a CNAME to its region's default tracking host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from certs.store import CertState, CertStore
from config import Settings
from config.datafolder import read_or_create_secret
from config.errors import TrackwayError
from proxy.domains import store as domain_store
from proxy.domains.checks import Checker, host_token, open_checker
from proxy.domains.descriptions import (
    CertificateSummary,
    CnameRecord,
    DomainDescription,
    HostCertificate,
    HostDescription,
    TxtRecord,
    unchecked_status,
)
from proxy.domains.domain_settings import DomainSettings
from proxy.domains.errors import DomainConflict, HostNotReady, InvalidDomain, UnknownDomain
from proxy.domains.link_bases import LinkBase, domain_link_base
from proxy.domains.names import is_within, normalise
from proxy.domains.status import HostChecks, HostStatus, Probe, host_status
from proxy.domains.store import PROXY, REDIRECT, DomainStore, SendingDomain, TrackingHost
from proxy.store.certs import open_cert_manager
from proxy.upstream.route import UpstreamRoute, parse_upstream

log = logging.getLogger("trackway.domains")
CHECK_SECRET_FILE = "check-secret"  # noqa: S105 - a file name
TXT_PREFIX = "trackway-verification="


def check_secret(data: Path) -> bytes:
    return read_or_create_secret(data / CHECK_SECRET_FILE, lambda: secrets.token_bytes(32))


@contextlib.contextmanager
def open_domain_service(settings: Settings) -> Iterator[DomainService]:
    """The service on the stores the settings name, closed afterwards."""
    store = domain_store.open_domain_store(settings)
    try:
        yield DomainService(
            DomainSettings.from_settings(settings), store, CertStore(settings.data)
        )
    finally:
        store.close()


async def renew_certificate(settings: Settings, name: str, force: bool = False) -> CertState:
    """Order a certificate for `name` now, whatever its renewal date, when
    `DomainService.orderable_host` allows it (`force`: whatever the host's last checks
    say); the host's certificate state after the order. `certs renew` and the admin
    API's `…/renew` both come here, so both refuse alike before contacting the CA."""
    with open_domain_service(settings) as service:
        host = service.orderable_host(name, force)
    manager = open_cert_manager(settings)
    try:
        return await manager.ensure(host, force=True)
    finally:
        manager.close()


class DomainService:
    def __init__(self, settings: DomainSettings, store: DomainStore, certs: CertStore) -> None:
        self.settings = settings
        self.store = store
        self.certs = certs

    # -- changes ----------------------------------------------------------------------

    def add(
        self, domain_name: str, host_name: str | None = None, region: str | None = None
    ) -> tuple[SendingDomain, TrackingHost | None]:
        name = normalise(domain_name)
        host = normalise(host_name) if host_name else None
        if host is not None and not is_within(host, name):
            raise InvalidDomain(f"{host} is not {name} or a subdomain of it")
        domain = self.store.domain(name)
        if domain is None:
            domain = SendingDomain(name, secrets.token_urlsafe(24), False, time.time())
            self.store.put_domain(domain)
        tracking = None
        if host is not None:
            regions = self.settings.regions
            if not regions:
                raise InvalidDomain('no regions configured: set [regions] us = "t.example.net"')
            region = region or self.settings.default_region
            if region not in regions:
                raise InvalidDomain(f"unknown region {region!r}; configured: {', '.join(regions)}")
            other = self.store.host(host)
            if other is not None and other.sending_domain != name:
                raise DomainConflict(f"{host} already belongs to {other.sending_domain}")
            assert region is not None
            tracking = (
                replace(other, region=region, checks=None, status=None, checked_at=None)
                if other  # added again: checked anew, its mode kept
                else TrackingHost(host, name, region, time.time())
            )
            self.store.put_host(tracking)
        return domain, tracking

    def remove(self, name: str) -> str:
        """Remove a tracking host, or a sending domain with all its hosts."""
        name = self._name(name)
        if self.store.host(name) is not None:
            self.store.remove_host(name)
            return f"removed tracking host {name}; new links use the default host"
        if self.store.domain(name) is not None:
            self.store.remove_domain(name)
            return f"removed sending domain {name} and its tracking hosts"
        raise UnknownDomain(f"no domain or tracking host {name}")

    def set_proxy(self, name: str, upstream_url: str, host_header: str = "custom") -> TrackingHost:
        """Put a tracking host in proxy mode: every request to it but trackway's own goes
        to `upstream_url`, with the Host of `host_header`. InvalidInput for an upstream
        that is not one (`parse_upstream`), UnknownDomain for a host not added."""
        host = self._tracking_host(name)
        route = parse_upstream(host.host, upstream_url, host_header)
        return self._put_mode(host, PROXY, route.upstream, route.host_header)

    def set_redirect(self, name: str) -> TrackingHost:
        """Return a tracking host to redirect mode: trackway's own links."""
        return self._put_mode(self._tracking_host(name), REDIRECT, None, "custom")

    def _put_mode(
        self, host: TrackingHost, mode: str, upstream: str | None, host_header: str
    ) -> TrackingHost:
        base = self.settings.default_link_base(host.region)
        changed = host.in_mode(mode, upstream, host_header, base)
        self.store.put_host(changed)
        log.info("%s: %s mode%s", host.host, mode, f" to {upstream}" if upstream else "")
        return changed

    def _tracking_host(self, name: str) -> TrackingHost:
        host = self.store.host(self._name(name))
        if host is None:
            raise UnknownDomain(f"no tracking host {name}; add it with `trackway domains add`")
        return host

    # -- checks -----------------------------------------------------------------------

    async def verify(self, name: str) -> list[HostStatus]:
        """Check a sending domain (its TXT record and every host) or one tracking host."""
        name = self._name(name)
        host = self.store.host(name)
        domain = self.store.domain(host.sending_domain if host else name)
        if domain is None:
            raise UnknownDomain(f"no domain or tracking host {name}; add it first")
        hosts = [host] if host else self.store.hosts(domain.name)
        async with open_checker(self.settings) as checker:
            verified = await self._check_ownership(checker, domain)
            return list(
                await asyncio.gather(*(self._check_host(checker, h, verified) for h in hosts))
            )

    async def check_all(self) -> None:
        for domain in self.store.domains():
            try:
                await self.verify(domain.name)
            except TrackwayError as e:  # a name stored before it was refused (an IP …)
                log.error("checking %s failed: %s", domain.name, e)
            except Exception:
                log.exception("checking %s failed", domain.name)

    async def _check_ownership(self, checker: Checker, domain: SendingDomain) -> bool:
        # Recorded on the row as read only: a change made while it waited is kept.
        name = domain.name
        values, error = await checker.txt_values(f"_trackway.{name}")
        verified = f"{TXT_PREFIX}{domain.token}" in values
        if error:
            last_error = f"TXT lookup failed: {error}"
        elif verified:
            last_error = None
        elif values:
            last_error = f"_trackway.{name} TXT holds {values!r}, not this domain's token"
        else:
            last_error = f"no TXT record at _trackway.{name}"
        if verified != domain.verified:
            log.info("%s: ownership %s", name, "verified" if verified else f"lost ({last_error})")
        self.store.record_domain_check(
            replace(
                domain,
                verified=verified,
                verified_at=time.time() if verified else None,
                last_error=last_error,
            )
        )
        return verified

    async def _check_host(
        self, checker: Checker, host: TrackingHost, verified: bool
    ) -> HostStatus:
        expected = self.settings.regions.get(host.region, "")
        route = host.route()
        upstream = None
        if verified:
            token = host_token(check_secret(self.settings.data), host.host)
            dns, http, hsts, https, upstream = await asyncio.gather(
                checker.cname_chain(host.host),
                checker.probe(host.host, token, use_tls=False),
                checker.hsts(host.host),
                checker.https_probe(
                    host.host, token, have_certificate=self.certs.has_certificate(host.host)
                ),
                checker.upstream_probe(route) if route else asyncio.sleep(0),
            )
            if route is not None and https is not None and https.ok and upstream and upstream.ok:
                # Served and answering: does a request through trackway reach it too?
                upstream = await checker.upstream_through_us(host.host)
        else:
            # Whoever added the domain has not shown it is theirs: no connection to the
            # name they chose, only DNS (its status needs the CNAME).
            dns = await checker.cname_chain(host.host)
            why = f"not checked until the ownership of {host.sending_domain} is verified"
            http, hsts, https = Probe(False, why), (), Probe(False, why)
            upstream = Probe(False, why) if route else None
        checks = HostChecks(
            host.host, expected, verified, dns, http, hsts, https, time.time(), upstream
        )
        status = host_status(checks, self.settings.default_link_base(host.region), host.proxied)
        _log_changes(host, status)
        self.store.record_host_check(
            replace(host, checks=checks, status=status, checked_at=checks.checked_at)
        )
        return status

    # -- reading ----------------------------------------------------------------------

    def link_base(self, domain_name: str) -> LinkBase:
        """What new links of this sending domain use, from its hosts' last status, and
        why not https on its tracking host."""
        name = self._name(domain_name)
        domain = self.store.domain(name)
        if domain is None:
            raise UnknownDomain(
                f"unknown sending domain {name}; add it with `trackway domains add`"
            )
        hosts = self.store.hosts(name)
        default = self.settings.default_link_base(hosts[0].region if hosts else None)
        return domain_link_base(domain, hosts, default)

    def describe(self, name: str) -> HostDescription | DomainDescription:
        """A tracking host's status, or a sending domain's with its hosts."""
        name = self._name(name)
        host = self.store.host(name)
        if host is not None:
            return self._describe_host(host)
        domain = self.store.domain(name)
        if domain is None:
            raise UnknownDomain(f"no domain or tracking host {name}")
        return self._describe_domain(domain)

    def all_domains(self) -> list[DomainDescription]:
        return [self._describe_domain(d) for d in self.store.domains()]

    def _describe_domain(self, domain: SendingDomain) -> DomainDescription:
        hosts = tuple(self._describe_host(h) for h in self.store.hosts(domain.name))
        return DomainDescription(
            domain=domain.name,
            ownership="verified" if domain.verified else "unverified",
            txt_record=TxtRecord(f"_trackway.{domain.name}", f"{TXT_PREFIX}{domain.token}"),
            ownership_error=domain.last_error,
            hosts=hosts,
            headline=(
                hosts[0].status
                if hosts
                else unchecked_status(domain.name, self.settings.default_link_base(None))
            ),
        )

    def _describe_host(self, host: TrackingHost) -> HostDescription:
        base = self.settings.default_link_base(host.region)
        return HostDescription(
            status=host.status or unchecked_status(host.host, base, host.proxied),
            sending_domain=host.sending_domain,
            region=host.region,
            cname_record=CnameRecord(host.host, self.settings.regions.get(host.region)),
            checked_at=host.checked_at,
            certificate=self._certificate_summary(host.host),
            mode=host.mode,
            upstream=host.upstream,
            certificate_obstacles=tuple(host.certificate_obstacles()),
        )

    def proxy_routes(self) -> dict[str, UpstreamRoute]:
        """Every proxied tracking host's route: what the public listeners forward."""
        routes = {}
        for host in self.store.hosts():
            try:
                route = host.route()
            except TrackwayError as e:  # stored by hand: the others still work
                log.error("%s: proxy mode without a valid upstream: %s", host.host, e)
                continue
            if route is not None:
                routes[host.host] = route
        return routes

    def certificate_hosts(self) -> list[str]:
        """Every tracking host, the regions' default hosts, and any host with a
        certificate in the data folder."""
        tracking = {h.host for h in self.store.hosts()}
        return sorted(tracking | set(self.region_hosts()) | set(self.certs.hosts()))

    def region_hosts(self) -> list[str]:
        """The regions' default tracking hosts: where links fall back to, the CNAME
        targets of every custom host."""
        return sorted({normalise(host) for host in self.settings.regions.values()})

    async def region_hosts_reaching_us(self) -> list[str]:
        """The region hosts whose HTTP reaches this server (the check path answers its
        token), so that an HTTP-01 order for them can succeed."""
        hosts = self.region_hosts()
        if not hosts:
            return []
        secret = check_secret(self.settings.data)
        async with open_checker(self.settings) as checker:
            probes = await asyncio.gather(
                *(checker.probe(host, host_token(secret, host), use_tls=False) for host in hosts)
            )
        for host, probe in zip(hosts, probes, strict=True):
            if not probe.ok:
                log.debug("region host %s does not reach this server: %s", host, probe.error)
        return [host for host, probe in zip(hosts, probes, strict=True) if probe.ok]

    def is_tracking_host(self, host: str) -> bool:
        return self.store.host(host) is not None

    def certificate(self, host: str) -> HostCertificate:
        return HostCertificate(host, self._certificate_summary(host))

    def _certificate_summary(self, host: str) -> CertificateSummary | None:
        return CertificateSummary.of(self.certs.state(host), self.certs.has_certificate(host))

    def hosts_to_certify(self) -> list[str]:
        """The hosts to order or renew certificates for: those ready for an HTTP-01 order,
        and those that have a certificate while they are still tracking hosts."""
        hosts = self.store.hosts()
        ready = {h.host for h in hosts if h.ready_for_certificate()}
        renewed = set(self.certs.hosts()) & {h.host for h in hosts}
        return sorted(ready | renewed)

    def orderable_host(self, name: str, force: bool = False) -> str:
        """`name`, normalised, when a certificate may be ordered for it now (`certs renew`,
        the API's `…/renew`): a tracking host ready for one (with `force`: whatever its
        last checks say); a host of the settings (a region's default host, the base
        URL's, `tracking_hosts`: the server decides whether it answers for it); a host
        with a certificate already. HostNotReady with the reasons, or UnknownDomain."""
        host = self._name(name)
        tracking = self.store.host(host)
        if tracking is not None:
            obstacles = tracking.certificate_obstacles()
            if obstacles and not force:
                raise HostNotReady(
                    f"{host} is not ready for a certificate: {'; '.join(obstacles)} "
                    f"(once fixed, check again with `trackway domains verify {host}`; "
                    "or order anyway with force: `--force`, `?force=1`)"
                )
            return host
        if host in self.settings.own_hosts or self.certs.has_certificate(host):
            return host
        # Even forced: an order for a name this server knows nothing of is a typo, and a
        # failed validation counts against the CA's limits.
        raise UnknownDomain(
            f"no tracking host or certificate {host}; add it with `trackway domains add`"
        )

    def _name(self, name: str) -> str:
        return normalise(name)


def _log_changes(host: TrackingHost, status: HostStatus) -> None:
    for check in ("cname", "http", "https", "link_base"):
        old = getattr(host.status, check) if host.status else None
        new = getattr(status, check)
        if old != new:
            reason = status.reasons.get(check, "")
            log.info(
                "%s: %s %s -> %s%s", host.host, check, old, new, f" ({reason})" if reason else ""
            )
