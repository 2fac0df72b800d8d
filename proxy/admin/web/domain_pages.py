"""The domain screens' handlers: each form does what the admin API's route does, through
the same `DomainService` calls (app links: `proxy.app_links`'s), then shows the domain
again (POST, redirect, GET)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from config import Settings
from config.errors import InvalidInput
from proxy import app_links
from proxy.admin.domain_calls import domain_calls
from proxy.admin.web.domain_views import domain_page, domains_page
from proxy.admin.web.guard import session_of
from proxy.admin.web.markup import Html, page
from proxy.domains.descriptions import DomainDescription, HostDescription
from proxy.domains.errors import HostProxied
from proxy.domains.service import DomainService
from proxy.domains.store import AppLinks

__all__ = ["DOMAIN_SETTINGS", "add_domain_pages"]

DOMAIN_SETTINGS = web.AppKey("web_domain_settings", Settings)
LIST = "/ui/domains"


def _html(request: web.Request, title: str, body: Html) -> web.Response:
    session = session_of(request)
    text = page(title, body, session.csrf, session.take_notice())
    return web.Response(text=text, content_type="text/html")


def _back_to(name: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"{LIST}/{quote(name, safe='')}")


async def _field(request: web.Request, name: str, required: bool = True) -> str | None:
    value = (await request.post()).get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput(f"{name} is required")
    return text or None


async def list_page(request: web.Request) -> web.Response:
    settings = request.app[DOMAIN_SETTINGS]
    domains = await domain_calls(request).run(lambda s: s.all_domains())
    body = domains_page(domains, settings.regions, session_of(request).csrf)
    return _html(request, "Domains", body)


DomainRead = tuple[DomainDescription, str | None, str | None, dict[str, AppLinks]]


def _read_domain(service: DomainService, name: str) -> HostDescription | DomainRead:
    described = service.describe(name)
    if isinstance(described, HostDescription):
        return described
    files = {
        h.status.host: app_links.app_links_of(service.store, h.status.host).app_links
        for h in described.hosts
    }
    try:
        base = service.link_base(described.domain)
        return described, base.url, base.reason, files
    except HostProxied as e:  # its links are the email platform's: the service says so
        return described, None, str(e), files


async def show(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    found = await domain_calls(request).run(lambda s: _read_domain(s, name))
    if isinstance(found, HostDescription):  # a host is shown on its domain's page
        raise _back_to(found.sending_domain)
    described, url, reason, files = found
    body = domain_page(described, url, reason, session_of(request).csrf, files)
    return _html(request, described.domain, body)


async def add(request: web.Request) -> web.StreamResponse:
    domain_name = await _field(request, "domain")
    host_name = await _field(request, "host", required=False)
    region = await _field(request, "region", required=False)
    assert domain_name is not None
    calls = domain_calls(request)
    domain, _ = await calls.run(lambda s: s.add(domain_name, host_name, region))
    await calls.verify(domain.name)
    session_of(request).notice = f"Added {domain.name}: create its DNS records, then Verify."
    raise _back_to(domain.name)


async def verify(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    calls = domain_calls(request)
    statuses = await calls.verify(name)
    described = await calls.run(lambda s: s.describe(name))
    domain = (
        described.sending_domain if isinstance(described, HostDescription) else described.domain
    )
    session_of(request).notice = f"Checked {name} ({len(statuses)} tracking host(s))."
    raise _back_to(domain)


async def remove(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    described, said = await domain_calls(request).run(lambda s: (s.describe(name), s.remove(name)))
    session_of(request).notice = said
    if isinstance(described, HostDescription):
        raise _back_to(described.sending_domain)
    raise web.HTTPSeeOther(LIST)


async def set_proxy(request: web.Request) -> web.StreamResponse:
    upstream = await _field(request, "upstream")
    host_header = await _field(request, "host_header", required=False)
    assert upstream is not None
    name = request.match_info["name"]
    calls = domain_calls(request)
    host = await calls.run(lambda s: s.set_proxy(name, upstream, host_header or "custom"))
    await calls.verify(host.host)
    session_of(request).notice = f"{host.host} is in proxy mode: requests go to {upstream}."
    raise _back_to(host.sending_domain)


async def set_redirect(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    calls = domain_calls(request)
    host = await calls.run(lambda s: s.set_redirect(name))
    await calls.verify(host.host)
    session_of(request).notice = f"{host.host} is in redirect mode: trackway's own links."
    raise _back_to(host.sending_domain)


async def save_app_links(request: web.Request) -> web.StreamResponse:
    """Both textareas replace both files, checked as the CLI and the API check theirs."""
    form = await request.post()
    apple, android = (form.get(field) for field in ("apple", "android"))
    links = app_links.from_form(
        apple if isinstance(apple, str) else "", android if isinstance(android, str) else ""
    )
    set_or_not = {True: "set", False: "not set"}
    return await _put_app_links(
        request,
        links,
        f"saved: Apple {set_or_not[links.apple is not None]}, "
        f"Android {set_or_not[links.android is not None]}; served within seconds",
    )


async def remove_app_links(request: web.Request) -> web.StreamResponse:
    return await _put_app_links(request, AppLinks(), "removed: neither file is served")


async def _put_app_links(request: web.Request, links: AppLinks, said: str) -> web.StreamResponse:
    name = request.match_info["name"]
    host = await domain_calls(request).run(lambda s: app_links.put_app_links(s.store, name, links))
    session_of(request).notice = f"App links of {host.host} {said}."
    raise _back_to(host.sending_domain)


def add_domain_pages(app: web.Application, settings: Settings) -> None:
    app[DOMAIN_SETTINGS] = settings
    app.router.add_get("/domains", list_page)
    app.router.add_post("/domains", add)
    app.router.add_get("/domains/{name}", show)
    app.router.add_post("/domains/{name}/verify", verify)
    app.router.add_post("/domains/{name}/remove", remove)
    app.router.add_post("/domains/{name}/proxy", set_proxy)
    app.router.add_post("/domains/{name}/redirect", set_redirect)
    app.router.add_post("/domains/{name}/app-links", save_app_links)
    app.router.add_post("/domains/{name}/app-links/remove", remove_app_links)
