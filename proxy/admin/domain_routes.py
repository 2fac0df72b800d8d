"""The admin API for domains: `/api/domains`, `/api/domains/{name}`, `…/verify`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from certs.manager import CertManager
from config import Settings
from proxy.domains.names import DomainNameError, normalise
from proxy.domains.service import DomainError, open_domain_service

DOMAIN_SETTINGS = web.AppKey("domain_settings", Settings)


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def list_domains(request: web.Request) -> web.Response:
    with open_domain_service(request.app[DOMAIN_SETTINGS]) as service:
        return web.json_response({"domains": [d.as_dict() for d in service.all_domains()]})


async def add_domain(request: web.Request) -> web.Response:
    try:
        body: Any = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error('expected JSON: {"domain": "example.com", "host": "links.example.com"}', 400)
    if not isinstance(body, dict) or not isinstance(body.get("domain"), str):
        return _error('expected JSON with "domain" (and optionally "host", "region")', 400)
    host, region = body.get("host"), body.get("region")
    if not isinstance(host, str | None) or not isinstance(region, str | None):
        return _error('"host" and "region" are strings', 400)
    with open_domain_service(request.app[DOMAIN_SETTINGS]) as service:
        try:
            domain, _ = service.add(body["domain"], host, region)
            await service.verify(domain.name)
            return web.json_response(service.describe(domain.name).as_dict(), status=201)
        except DomainError as e:
            return _error(str(e), 400)


async def show_domain(request: web.Request) -> web.Response:
    return await _on_name(request, verify=False)


async def verify_domain(request: web.Request) -> web.Response:
    return await _on_name(request, verify=True)


async def _on_name(request: web.Request, verify: bool) -> web.Response:
    name = request.match_info["name"]
    with open_domain_service(request.app[DOMAIN_SETTINGS]) as service:
        try:
            if verify:
                await service.verify(name)
            return web.json_response(service.describe(name).as_dict())
        except DomainError as e:
            return _error(str(e), 404)


async def remove_domain(request: web.Request) -> web.Response:
    with open_domain_service(request.app[DOMAIN_SETTINGS]) as service:
        try:
            return web.json_response({"result": service.remove(request.match_info["name"])})
        except DomainError as e:
            return _error(str(e), 404)


async def list_certs(request: web.Request) -> web.Response:
    with open_domain_service(request.app[DOMAIN_SETTINGS]) as service:
        certificates = [service.certificate(h).as_dict() for h in service.certificate_hosts()]
        return web.json_response({"certificates": certificates})


async def show_cert(request: web.Request) -> web.Response:
    return await _on_certificate(request, renew=False)


async def renew_cert(request: web.Request) -> web.Response:
    return await _on_certificate(request, renew=True)


async def _on_certificate(request: web.Request, renew: bool) -> web.Response:
    try:
        host = normalise(request.match_info["host"])
    except DomainNameError as e:
        return _error(str(e), 400)
    settings = request.app[DOMAIN_SETTINGS]
    if renew:
        manager = CertManager(settings.data, settings.acme)
        try:
            await manager.ensure(host, force=True)
        finally:
            manager.close()
    with open_domain_service(settings) as service:
        return web.json_response(service.certificate(host).as_dict())


def add_domain_routes(app: web.Application, settings: Settings) -> None:
    app[DOMAIN_SETTINGS] = settings
    app.router.add_get("/api/domains", list_domains)
    app.router.add_post("/api/domains", add_domain)
    app.router.add_get("/api/domains/{name}", show_domain)
    app.router.add_post("/api/domains/{name}/verify", verify_domain)
    app.router.add_delete("/api/domains/{name}", remove_domain)
    app.router.add_get("/api/certs", list_certs)
    app.router.add_get("/api/certs/{host}", show_cert)
    app.router.add_post("/api/certs/{host}/renew", renew_cert)
