"""What the domain service uses of the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import CheckSettings, DnsSettings, ProxySettings, Settings


@dataclass(frozen=True)
class DomainSettings:
    """What the domain service uses of the settings."""

    regions: dict[str, str]  # region -> its default tracking host, the CNAME target
    default_region: str | None
    link_bases: dict[str, str]  # region -> where its links go without a custom host
    fallback_link_base: str  # … without a region, or with one no longer configured
    checks: CheckSettings
    dns: DnsSettings
    proxy: ProxySettings  # the upstream check trusts what the forwarder trusts
    data: Path  # the data folder, where the check secret is
    own_hosts: frozenset[str]  # the settings' hosts: regions', the base URL's …

    @classmethod
    def from_settings(cls, settings: Settings) -> DomainSettings:
        return cls(
            regions=settings.regions,
            default_region=settings.default_region,
            link_bases={region: settings.default_link_base(region) for region in settings.regions},
            fallback_link_base=settings.default_link_base(),
            checks=settings.checks,
            dns=settings.dns,
            proxy=settings.proxy,
            data=settings.data,
            own_hosts=settings.own_hosts(),
        )

    def default_link_base(self, region: str | None) -> str:
        return self.link_bases.get(region or "", self.fallback_link_base)
