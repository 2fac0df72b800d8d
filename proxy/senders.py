"""The sender's entry point from Python: a `Rewriter` whose links use the right base.

from config import load_settings
from proxy.senders import rewriter_for

rewriter = rewriter_for(load_settings(), domain="example.com")
result = rewriter.rewrite_html(html, SendContext("msg-1", "rcpt-42", sent_at=now))
"""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import urlsplit

from config import Settings
from config.errors import InvalidInput
from config.settings import normalise_base_url
from proxy.domains.link_bases import LinkBase
from proxy.domains.service import open_domain_service
from proxy.store.keys import current_keyring
from redirector import LinkRules, LinkSigner, Rewriter


class NoTrackingBase(InvalidInput, ValueError):
    """Links cannot be made: no base URL was given or configured."""


def link_base(
    settings: Settings, domain: str | None = None, base_url: str | None = None
) -> LinkBase:
    """`base_url` if given; else the sending domain's link base from its last checked
    status (custom https, custom http, or the default host), with why it is not https
    on the domain's tracking host; else the `base_url` setting. Raises DomainError for
    an unknown domain, NoTrackingBase when there is no base."""
    chosen = LinkBase(base_url or "")
    if not chosen.url and domain:
        with open_domain_service(settings) as service:
            chosen = service.link_base(domain)
    url = chosen.url or settings.base_url
    if not url:
        raise NoTrackingBase("no tracking base: pass --base-url URL or --domain, or set base_url")
    return replace(chosen, url=normalise_base_url(url, "--base-url"))


def rewriter_for(
    settings: Settings, *, domain: str | None = None, base_url: str | None = None
) -> Rewriter:
    """A rewriter whose links use `link_base(settings, domain, base_url)`."""
    base = link_base(settings, domain, base_url).url
    ring = current_keyring(settings, int(time.time()))
    rules = LinkRules.from_settings(settings.rewrite, settings.own_hosts())
    # Links already on the base host are ours: never wrapped twice.
    rules = rules.with_hosts([urlsplit(base).hostname or ""])
    return Rewriter(LinkSigner(ring, base), rules)
