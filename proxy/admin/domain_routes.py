"""The admin API for domains and certificates: `/api/domains`, `/api/domains/{name}`,
`…/verify`, `…/proxy`, `…/app-links`; `/api/certs`, `/api/certs/{host}`,
`…/renew[?force=1]`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from config import Settings
from config.errors import InvalidInput
from proxy import app_links
from proxy.admin.domain_calls import domain_calls
from proxy.admin.query import flag
from proxy.domains.names import normalise
from proxy.domains.service import renew_certificate
from proxy.domains.store import AppLinks

DOMAIN_SETTINGS = web.AppKey("domain_settings", Settings)


async def list_domains(request: web.Request) -> web.Response:
    domains = await domain_calls(request).run(lambda s: [d.as_dict() for d in s.all_domains()])
    return web.json_response({"domains": domains})


async def add_domain(request: web.Request) -> web.Response:
    try:
        body: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput(
            'expected JSON: {"domain": "example.com", "host": "links.example.com"}'
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("domain"), str):
        raise InvalidInput('expected JSON with "domain" (and optionally "host", "region")')
    host, region = body.get("host"), body.get("region")
    if not isinstance(host, str | None) or not isinstance(region, str | None):
        raise InvalidInput('"host" and "region" are strings')
    calls = domain_calls(request)
    domain, _ = await calls.run(lambda s: s.add(body["domain"], host, region))
    await calls.verify(domain.name)
    described = await calls.run(lambda s: s.describe(domain.name).as_dict())
    return web.json_response(described, status=201)


async def show_domain(request: web.Request) -> web.Response:
    return await _on_name(request, verify=False)


async def verify_domain(request: web.Request) -> web.Response:
    return await _on_name(request, verify=True)


async def _on_name(request: web.Request, verify: bool) -> web.Response:
    name = request.match_info["name"]
    if verify:
        await domain_calls(request).verify(name)
    return web.json_response(await domain_calls(request).run(lambda s: s.describe(name).as_dict()))


async def remove_domain(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    return web.json_response({"result": await domain_calls(request).run(lambda s: s.remove(name))})


async def set_proxy(request: web.Request) -> web.Response:
    """`{"upstream": URL, "host_header": "custom"|"upstream"}`: the host in proxy mode,
    checked; its status."""
    try:
        body: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("upstream"), str):
        raise InvalidInput(
            'expected JSON: {"upstream": "https://track.customer.io", "host_header": "custom"}'
        )
    host_header = body.get("host_header", "custom")
    if not isinstance(host_header, str):
        raise InvalidInput('"host_header" is "custom" or "upstream"')
    name = request.match_info["name"]
    host = await domain_calls(request).run(
        lambda s: s.set_proxy(name, body["upstream"], host_header)
    )
    return await _checked(request, host.host)


async def set_redirect(request: web.Request) -> web.Response:
    """The host back in redirect mode, checked; its status."""
    name = request.match_info["name"]
    host = await domain_calls(request).run(lambda s: s.set_redirect(name))
    return await _checked(request, host.host)


async def _checked(request: web.Request, host: str) -> web.Response:
    await domain_calls(request).verify(host)
    return web.json_response(await domain_calls(request).run(lambda s: s.describe(host).as_dict()))


async def show_app_links(request: web.Request) -> web.Response:
    """`{"host", "apple": {...} | null, "android": [...] | null}`: the files served."""
    name = request.match_info["name"]
    host = await domain_calls(request).run(lambda s: app_links.app_links_of(s.store, name))
    return web.json_response(app_links.as_dict(host.host, host.app_links))


async def set_app_links(request: web.Request) -> web.Response:
    """`{"apple": {...} | null, "android": [...] | null}` replaces both files (null, or
    left out: not served); validated as `trackway domains app-links` does."""
    try:
        text = await request.text()
    except UnicodeDecodeError:
        raise InvalidInput("request body: not UTF-8 text") from None
    links = app_links.from_request(app_links.request_json(text))
    return await _put_app_links(request, links)


async def remove_app_links(request: web.Request) -> web.Response:
    return await _put_app_links(request, AppLinks())


async def _put_app_links(request: web.Request, links: AppLinks) -> web.Response:
    name = request.match_info["name"]
    host = await domain_calls(request).run(lambda s: app_links.put_app_links(s.store, name, links))
    return web.json_response(app_links.as_dict(host.host, host.app_links))


async def list_certs(request: web.Request) -> web.Response:
    certificates = await domain_calls(request).run(
        lambda s: [s.certificate(h).as_dict() for h in s.certificate_hosts()]
    )
    return web.json_response({"certificates": certificates})


async def show_cert(request: web.Request) -> web.Response:
    return await _certificate(request, normalise(request.match_info["host"]))


async def renew_cert(request: web.Request) -> web.Response:
    """Order now; refused (HostNotReady) for a tracking host not ready, unless `?force=1`."""
    force = flag(request.query, "force")
    state = await renew_certificate(
        request.app[DOMAIN_SETTINGS], request.match_info["host"], force
    )
    return await _certificate(request, state.host)


async def _certificate(request: web.Request, host: str) -> web.Response:
    return web.json_response(
        await domain_calls(request).run(lambda s: s.certificate(host).as_dict())
    )


def add_domain_routes(app: web.Application, settings: Settings) -> None:
    app[DOMAIN_SETTINGS] = settings
    app.router.add_get("/api/domains", list_domains)
    app.router.add_post("/api/domains", add_domain)
    app.router.add_get("/api/domains/{name}", show_domain)
    app.router.add_post("/api/domains/{name}/verify", verify_domain)
    app.router.add_delete("/api/domains/{name}", remove_domain)
    app.router.add_put("/api/domains/{name}/proxy", set_proxy)
    app.router.add_delete("/api/domains/{name}/proxy", set_redirect)
    app.router.add_get("/api/domains/{name}/app-links", show_app_links)
    app.router.add_put("/api/domains/{name}/app-links", set_app_links)
    app.router.add_delete("/api/domains/{name}/app-links", remove_app_links)
    app.router.add_get("/api/certs", list_certs)
    app.router.add_get("/api/certs/{host}", show_cert)
    app.router.add_post("/api/certs/{host}/renew", renew_cert)
