"""The public application: click and open routes with their writer and key ring, and
the proxied hosts' requests forwarded to their upstreams (`proxy.upstream`)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Container, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from ssl import SSLContext
from typing import overload

from aiohttp import web

from certs.challenges import Challenges, is_token
from config import Settings
from config.datafolder import DataFolderError, file_version
from config.errors import Unavailable
from proxy.data_folder import open_loader, open_spool
from proxy.domains.checks import CHECK_PATH, host_token
from proxy.domains.proxy_routes import EVERY_HOST
from proxy.domains.service import CHECK_SECRET_FILE, check_secret
from proxy.domains.store import AppLinks
from proxy.serve.tls_listener import TlsListener
from proxy.store.certs import open_challenges
from proxy.upstream.fast_forward import FastForwarding
from proxy.upstream.forwarder import Forwarder
from proxy.upstream.pages import error_page
from proxy.upstream.route import UpstreamRoute
from proxy.upstream.routing import (
    APP_LINK_PATHS,
    FORWARD,
    MISDIRECTED,
    TO_HTTPS,
    decide,
    request_host,
)
from redirector import load_keyring
from redirector.clicks import (
    ClickConnections,
    ClickState,
    ConnectionLimits,
    PrefixHandler,
    PublicHandler,
    TrustedProxies,
    fd_limit,
    not_found,
)
from redirector.links.keystore import KEYS_FILE, read_keyring
from redirector.recording.event_store import EventStore
from redirector.recording.spool_loader import keep_loading
from redirector.recording.spool_writer import SpoolWriter

log = logging.getLogger("trackway.public")
KEY_RELOAD_SECONDS = 2.0
# Challenge lookups at once: a validation asks a few times (vantage points), each a
# short query; more threads would only queue more lookups on the one connection.
LOOKUP_THREADS = 2
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def no_routes() -> Mapping[str, UpstreamRoute]:
    return {}


def every_host() -> Container[str]:
    return EVERY_HOST


def no_app_links() -> Mapping[str, AppLinks]:
    return {}


MAX_VERDICTS = 1024


class _Verdicts(dict[str, bool]):
    """`_serves_host`'s verdicts for one state of the live map (`routes`, `own`)."""

    def __init__(self, routes: Mapping[str, UpstreamRoute], own: Container[str]) -> None:
        super().__init__()
        self.routes = routes
        self.own = own


class PublicService:
    """The public listener's handler with what it needs: key ring, writer, key reloads.

    Clicks are recorded the one way there is: durable in this process's spool file
    before the answer, then loaded into the database. Under `serve` the writer process
    loads every worker's files (`loads_spool=False`); on its own (tests, embedding) the
    service runs the same loader as a task of its own. `store_factory` opens the
    loader's database (default: the data folder's SQLite).

    `routes()` gives the proxied hosts (normalised host -> route), read at each request
    (default: none). `own_hosts()` gives the hosts whose links are ours; a request for
    any other host is misdirected (421) but on trackway's own paths. Default: every
    host is ours (`EVERY_HOST`), so any Host gets clicks served. `app_links()` gives the
    hosts' app-link files (normalised host -> files; default: none).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        loads_spool: bool = True,
        store_factory: Callable[[], EventStore] | None = None,
        routes: Callable[[], Mapping[str, UpstreamRoute]] = no_routes,
        own_hosts: Callable[[], Container[str]] = every_host,
        app_links: Callable[[], Mapping[str, AppLinks]] = no_app_links,
    ) -> None:
        self.settings = settings
        self.routes = routes
        self.app_links = app_links
        self.own_hosts = own_hosts
        sync = settings.store.synchronous == "full"
        self.state = ClickState(
            ring=load_keyring(settings.data, int(time.time())),
            writer=SpoolWriter(open_spool(settings, sync=sync)),
            settings=settings.clicks,
            proxies=TrustedProxies.from_settings(settings.server, settings.clicks),
        )
        self.loader = open_loader(settings, store_factory) if loads_spool else None
        self.challenges = open_challenges(settings)  # HTTP-01 answers, maybe another's
        # Their lookups have threads of their own: a flood of them (anyone may ask) while
        # the database does not answer never takes the default executor, which resolves
        # the proxy's upstream names.
        self.lookups = ThreadPoolExecutor(
            LOOKUP_THREADS, thread_name_prefix="trackway-acme-answers"
        )
        # trackway answers these on every host, proxied or not (`routing`).
        own: dict[str, PrefixHandler] = {
            CHECK_PATH: domain_check_handler(followed_check_secret(settings.data)),
            ACME_CHALLENGE_PATH: acme_challenge_handler(self.challenges, self.lookups),
            **dict.fromkeys(APP_LINK_PATHS, app_link_handler(app_links)),
        }
        self.own_paths = tuple(own)
        self.clicks = PublicHandler(self.state, own)
        self.forwarder = Forwarder(settings.proxy, settings.dns, self.state.proxies)
        self._verdicts = _Verdicts({}, EVERY_HOST)
        if routes is not no_routes or own_hosts is not every_host:
            self.state.serves_host = self._serves_host
        self.handler: Handler = self._route if self.state.serves_host else self.clicks
        self._reloader: asyncio.Task[None] | None = None
        self._loading: asyncio.Task[None] | None = None
        self._stop_loading = asyncio.Event()
        self.limits = ConnectionLimits.from_settings(settings.server, fd_limit())
        self.connections = ClickConnections(self.state, self.handler, self.limits)
        # Plain requests to proxied hosts: forwarded without aiohttp (the rest with it).
        self.fast_forwarding = FastForwarding(
            settings, self.connections, routes, self.own_paths, self.state.proxies
        )
        self.connections.divert = self.fast_forwarding.divert

    async def start(self) -> None:
        self.state.writer.start()
        if self.loader is not None:
            self._loading = asyncio.create_task(
                keep_loading(self.loader, self._stop_loading, self.settings.store.load_priority)
            )
        self.connections.start()
        self._reloader = asyncio.create_task(_reload_keys(self.state, self.settings))

    def _serves_host(self, authority: str) -> bool:
        """Whether the click routes answer for this Host: it is ours and not proxied.
        Asked on every fast-path click: the verdict is kept per Host value as sent (a
        server sees a few), until the live map changes; at most `MAX_VERDICTS` of them,
        whatever Host values clients invent."""
        routes = self.routes()
        own = self.own_hosts()
        if not routes and own is EVERY_HOST:  # no host to parse
            return True
        verdicts = self._verdicts
        if verdicts.routes is not routes or verdicts.own is not own:
            verdicts = self._verdicts = _Verdicts(routes, own)
        verdict = verdicts.get(authority)
        if verdict is None:
            host = request_host(authority)
            verdict = host not in routes and host in own
            if len(verdicts) < MAX_VERDICTS:
                verdicts[authority] = verdict
        return verdict

    async def _route(self, request: web.BaseRequest) -> web.StreamResponse:
        """aiohttp's requests: forwarded, misdirected, or the click routes'."""
        host = request_host(request.host)
        route = self.routes().get(host)
        path = request.path
        verdict = decide(
            path,
            scheme=request.scheme,
            proxied=route is not None,
            ours=host in self.own_hosts(),
            own_paths=self.own_paths,
            redirect_http=self.settings.proxy.redirect_http,
            app_link_set=path in APP_LINK_PATHS
            and _app_link_file(self.app_links, host, path) is not None,
        )
        if verdict == FORWARD and route is not None:
            return await self.forwarder.forward(request, route)
        if verdict == TO_HTTPS:
            location = f"https://{host}{request.rel_url.raw_path_qs}"
            return web.Response(
                status=308, headers={"Location": location, "Cache-Control": "no-store"}
            )
        if verdict == MISDIRECTED and not self.clicks.is_signed_link(request.path):
            return error_page(421)
        return await self.clicks(request)

    def protocol(self) -> asyncio.Protocol:
        """A connection's protocol, for the HTTP listeners."""
        return self.connections.protocol()

    @overload
    async def listen(self, sock: socket.socket) -> asyncio.Server: ...

    @overload
    async def listen(
        self, sock: socket.socket, ssl: SSLContext, challenges: Challenges | None = None
    ) -> TlsListener: ...

    async def listen(
        self,
        sock: socket.socket,
        ssl: SSLContext | None = None,
        challenges: Challenges | None = None,
    ) -> asyncio.Server | TlsListener:
        """Serve a listening socket (`proxy.serve.listeners.bind_socket`), with TLS if
        `ssl` (answering TLS-ALPN-01 from `challenges` if given); `close()` the listener
        returned to stop accepting."""
        if ssl is None:
            return await asyncio.get_running_loop().create_server(self.protocol, sock=sock)
        # Counted from accept; its TLS-ALPN-01 lookups in the answers' threads.
        listener = TlsListener(self.connections, ssl, challenges, self.lookups)
        listener.start(sock)
        return listener

    async def close(self, timeout: float = 10.0) -> None:
        """After the listeners stopped accepting: finish the requests in flight, make
        their events durable, then stop."""
        await self.connections.close(timeout)
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
        await self.forwarder.close()
        await self.fast_forwarding.close()
        await self.state.writer.close()
        self.lookups.shutdown(wait=False, cancel_futures=True)
        self.challenges.close()
        if self._loading is not None:
            self._stop_loading.set()
            await self._loading


def domain_check_handler(secret: Callable[[], bytes]) -> PrefixHandler:
    """`/.well-known/trackway/check/<token>` answers the token only for the Host it was
    made for: the domain checks' proof that a name really reaches this server."""

    async def check(request: web.BaseRequest, token: str) -> web.StreamResponse:
        host = request.url.host or ""
        if host and hmac.compare_digest(token.encode(), host_token(secret(), host).encode()):
            return web.Response(text=token, headers={"Cache-Control": "no-store"})
        return not_found()

    return check


def followed_check_secret(data: Path) -> Callable[[], bytes]:
    """The check secret as its file holds it now: with `[store] url` the mirroring task
    replaces the file with the database's (shared once the database is reachable), and
    the checks of another server expect that one. One stat per check request (they are
    few); a file that cannot be read is said once, and the secret in use kept."""
    path = data / CHECK_SECRET_FILE
    seen, secret = file_version(path), check_secret(data)

    def current() -> bytes:
        nonlocal seen, secret
        version = file_version(path)
        if version != seen:
            seen = version
            try:
                secret = check_secret(data)  # made again if deleted, as at the start
            except DataFolderError as e:
                log.error("check secret not reloaded, keeping the current one: %s", e)
        return secret

    return current


ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/"


# Short: a changed file reaches Apple's and Google's verifiers soon (they cache too).
APP_LINK_HEADERS = {"Cache-Control": "public, max-age=300"}


def app_link_handler(app_links: Callable[[], Mapping[str, AppLinks]]) -> PrefixHandler:
    """The app-link files (`routing.APP_LINK_PATHS`) of the request's host, as
    `trackway domains app-links` stored them: 200 JSON, never a redirect; 404 when not
    set (a proxied host's unset file never comes here: it is forwarded)."""

    async def answer(request: web.BaseRequest, rest: str) -> web.StreamResponse:
        host = request_host(request.host)
        text = _app_link_file(app_links, host, request.path)
        if text is None:
            return not_found()
        return web.Response(
            body=text.encode("utf-8"), content_type="application/json", headers=APP_LINK_HEADERS
        )

    return answer


def _app_link_file(
    app_links: Callable[[], Mapping[str, AppLinks]], host: str, path: str
) -> str | None:
    files = app_links().get(host)
    return None if files is None else files.for_path(path)


def acme_challenge_handler(store: Challenges, lookups: Executor) -> PrefixHandler:
    """HTTP-01 (RFC 8555 §8.3): the key authorization for a token being validated,
    whichever server published it (`open_challenges`). 503 while the shared store is
    down: the CA tries again. Looked up in `lookups`' threads."""

    async def answer(request: web.BaseRequest, token: str) -> web.StreamResponse:
        if not is_token(token):
            return not_found()
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(lookups, store.response, token)
        except Unavailable as e:
            log.warning("ACME challenge not looked up: %s", e)
            return web.Response(status=503, headers={"Retry-After": "5"})
        if response is None:
            return not_found()
        return web.Response(text=response, content_type="application/octet-stream")

    return answer


async def _reload_keys(state: ClickState, settings: Settings) -> None:
    """Pick up `keys rotate` / `keys retire` without a restart: the file is tiny. A file
    that cannot be read (damaged, missing) is said once, and the ring in use is kept
    until the file changes again: this task outlives whatever the file holds."""
    path = settings.data / KEYS_FILE
    seen = file_version(path)
    while True:
        await asyncio.sleep(KEY_RELOAD_SECONDS)
        current = file_version(path)
        if current == seen:
            continue
        seen = current
        try:
            state.ring = read_keyring(settings.data)
            log.info("key ring reloaded: %d keys", len(state.ring.keys))
        except Exception as e:  # KeyRingError, or anything else: the loop goes on
            log.error("key ring not reloaded, keeping the current one: %s", e)
