"""A platform's tracking host for the proxy tests: a real aiohttp server on loopback
that records what it receives and answers by path."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from dataclasses import dataclass, field

from aiohttp import web

from proxy.serve.listeners import bind_socket

GZIPPED = gzip.compress(b"<p>compressed by the platform</p>" * 20)
MIB = 1024 * 1024


@dataclass
class Received:
    method: str
    target: str  # the request line's target, as sent
    headers: list[tuple[str, str]]
    body: bytes
    sni: str | None  # the TLS server name the client sent (None over plain HTTP)

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


@dataclass
class Upstream:
    tls: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0
    slow_seconds: float = 5.0
    _runner: web.ServerRunner | None = None
    # id(ssl object) -> the name its client asked for (the server side sees SNI here).
    _names: dict[int, str | None] = field(default_factory=dict)

    async def start(self) -> Upstream:
        if self.tls is not None:
            self.tls.sni_callback = self._note_name
        self._runner = web.ServerRunner(web.Server(self._answer))
        await self._runner.setup()
        sock = bind_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=self.tls).start()
        return self

    def _note_name(self, ssl_object: ssl.SSLObject, name: str | None, _: object) -> None:
        self._names[id(ssl_object)] = name

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.received.append(
            Received(
                request.method,
                request.raw_path,
                # The connection it came by, for the keep-alive test.
                [*request.headers.items(), ("X-Peer-Port", str(peer[1] if peer else ""))],
                await request.read(),
                self._names.get(id(ssl_object)) if ssl_object is not None else None,
            )
        )
        path = request.path
        if path == "/redirect":
            response = web.Response(status=302, headers={"Location": "https://dest.example/a?b=1"})
            response.headers.add("Set-Cookie", "sid=1; Secure; HttpOnly")
            response.headers.add("Set-Cookie", "seen=yes")
            response.headers["Cache-Control"] = "private, max-age=0"
            return response
        if path == "/gzip":
            return web.Response(
                body=GZIPPED, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
            )
        if path == "/big":
            return await self._big(request, int(request.query["mib"]))
        if path == "/slow":
            await asyncio.sleep(self.slow_seconds)
        return web.Response(
            text="from the platform",
            headers={
                "Connection": "X-Hop",
                "X-Hop": "connection-scoped",
                "Keep-Alive": "timeout=5",
                "Proxy-Authenticate": "Basic",
                "Upgrade": "h2c",
                "X-End-To-End": "kept",
            },
        )

    async def _big(self, request: web.BaseRequest, mib: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = mib * MIB
        await response.prepare(request)
        chunk = b"x" * MIB
        for _ in range(mib):
            await response.write(chunk)
        await response.write_eof()
        return response
