"""The admin API for domains: `/api/domains`, `/api/domains/{name}`, `…/verify`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from certs.manager import CertManager
from certs.store import CertStore
from config import Settings
from proxy.domain_names import DomainNameError, normalise
from proxy.domain_service import DomainError, DomainService, certificate_summary

DOMAIN_SETTINGS = web.AppKey("domain_settings", Settings)


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _service(request: web.Request) -> DomainService:
    return DomainService(request.app[DOMAIN_SETTINGS])


async def list_domains(request: web.Request) -> web.Response:
    service = _service(request)
    try:
        return web.json_response({"domains": service.all_domains()})
    finally:
        service.close()


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
    service = _service(request)
    try:
        domain, _ = service.add(body["domain"], host, region)
        await service.verify(domain.name)
        return web.json_response(service.describe(domain.name), status=201)
    except DomainError as e:
        return _error(str(e), 400)
    finally:
        service.close()


async def show_domain(request: web.Request) -> web.Response:
    service = _service(request)
    try:
        return web.json_response(service.describe(request.match_info["name"]))
    except DomainError as e:
        return _error(str(e), 404)
    finally:
        service.close()


async def verify_domain(request: web.Request) -> web.Response:
    service = _service(request)
    try:
        await service.verify(request.match_info["name"])
        return web.json_response(service.describe(request.match_info["name"]))
    except DomainError as e:
        return _error(str(e), 404)
    finally:
        service.close()


async def remove_domain(request: web.Request) -> web.Response:
    service = _service(request)
    try:
        return web.json_response({"result": service.remove(request.match_info["name"])})
    except DomainError as e:
        return _error(str(e), 404)
    finally:
        service.close()


async def list_certs(request: web.Request) -> web.Response:
    settings = request.app[DOMAIN_SETTINGS]
    service = _service(request)
    try:
        hosts = sorted(
            {h.host for h in service.store.hosts()} | set(CertStore(settings.data).hosts())
        )
    finally:
        service.close()
    store = CertStore(settings.data)
    return web.json_response(
        {
            "certificates": [
                {"host": h, **(certificate_summary(store, h) or {"present": False})} for h in hosts
            ]
        }
    )


async def show_cert(request: web.Request) -> web.Response:
    settings = request.app[DOMAIN_SETTINGS]
    try:
        host = normalise(request.match_info["host"])
    except DomainNameError as e:
        return _error(str(e), 400)
    summary = certificate_summary(CertStore(settings.data), host) or {"present": False}
    return web.json_response({"host": host, **summary})


async def renew_cert(request: web.Request) -> web.Response:
    settings = request.app[DOMAIN_SETTINGS]
    try:
        host = normalise(request.match_info["host"])
    except DomainNameError as e:
        return _error(str(e), 400)
    manager = CertManager(settings)
    try:
        await manager.ensure(host, force=True)
    finally:
        manager.close()
    summary = certificate_summary(CertStore(settings.data), host) or {"present": False}
    return web.json_response({"host": host, **summary})


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
