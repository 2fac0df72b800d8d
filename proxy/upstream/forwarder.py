"""A proxied host's requests forwarded to its upstream, the answers streamed back, for
what the proxy's fast path leaves to aiohttp (`fast_forward`: bodies of unknown length,
upgrades, HTTP/1.0, odd heads). Network I/O.

One `ClientSession` per worker pools keep-alive connections to the upstreams. Names
resolve through `[dns] nameservers` when set; TLS is verified against the upstream's
name, which is also the SNI, with the system's CAs and `[proxy] ca_bundle`. Nothing is
followed (a 3xx goes back as it came), decompressed, cached or held: both bodies pass
through in chunks, each written before the next is read, so a worker holds a few
chunks per request whatever the size. The URL is always the route's scheme, host and
port with the request's path and query as they came: nothing in a request chooses
where trackway connects.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import client_exceptions as errors
from aiohttp import web
from yarl import URL

from config import DnsSettings, ProxySettings
from proxy.upstream.accounting import answered, upstream_failed, upstream_seconds
from proxy.upstream.headers import request_headers, response_headers
from proxy.upstream.pages import error_page
from proxy.upstream.route import UpstreamRoute
from proxy.upstream.upstream_pool import DNS_CACHE_SECONDS, upstream_resolver, upstream_tls
from redirector.clicks import TrustedProxies

CHUNK_BYTES = 64 * 1024
# The client sent these or nothing: aiohttp adds none of its own.
_NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


class BodyTooLarge(Exception):
    pass


class Forwarder:
    def __init__(self, proxy: ProxySettings, dns: DnsSettings, proxies: TrustedProxies) -> None:
        self.settings = proxy
        self.dns = dns
        self.proxies = proxies
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=0,  # the public listener's connection cap bounds these
            ttl_dns_cache=DNS_CACHE_SECONDS,
            resolver=upstream_resolver(self.dns),
            ssl=upstream_tls(self.settings),
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # one user's cookies are never another's
            auto_decompress=False,
            skip_auto_headers=_NO_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=self.settings.connect_timeout,
                sock_read=self.settings.read_timeout,
            ),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def forward(self, request: web.BaseRequest, route: UpstreamRoute) -> web.StreamResponse:
        """Answer `request` with what `route`'s upstream answers (or 413, 502, 504)."""
        if self._session is None:
            self._session = self._open()
        length = request.content_length
        if length is not None and length > self.settings.max_body_bytes:
            return self._refuse_body(route)
        # Absolute-form (`GET http://elsewhere/ HTTP/1.1`): only its path and query count.
        target = request.raw_path
        if not target.startswith("/"):
            target = request.rel_url.raw_path_qs
        path, _, query = target.partition("?")
        url = URL.build(
            scheme=route.scheme,
            host=route.upstream_host,
            port=route.port,
            path=path,
            query_string=query,
            encoded=True,
        )
        headers = request_headers(
            list(request.headers.items()),
            host_header=route.host_header_value(),
            custom_host=route.host,
            scheme=request.scheme,
            peer=request.remote or "",
            proxies=self.proxies,
        )
        body = _Body(request, self.settings.max_body_bytes) if request.body_exists else None
        started = time.monotonic()
        try:
            upstream = await self._session.request(
                request.method,
                url,
                headers=headers,
                data=body.chunks() if body is not None else None,
                allow_redirects=False,
                server_hostname=route.upstream_host if route.scheme == "https" else None,
            )
        except Exception as e:
            if body is not None and body.too_large:
                return self._refuse_body(route)
            return self._failed(route, e)
        upstream_seconds(time.monotonic() - started)
        try:
            return await self._stream_back(request, route, upstream)
        finally:
            upstream.close()  # a no-op once read to its end: the connection is pooled

    async def _stream_back(
        self,
        request: web.BaseRequest,
        route: UpstreamRoute,
        upstream: aiohttp.ClientResponse,
    ) -> web.StreamResponse:
        answer = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in response_headers(list(upstream.headers.items()), upstream.status):
            answer.headers.add(name, value)
        answered(route, upstream.status)
        try:
            await answer.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                await answer.write(chunk)
            await answer.write_eof()
        except (TimeoutError, aiohttp.ClientError) as e:
            # The head went out: the client learns of the cut from the connection.
            upstream_failed(route, failure(e)[1], f"after the answer's head: {e!r}")
            if request.transport is not None:
                request.transport.abort()
        except ConnectionError:
            pass  # the client left: the upstream's connection is closed, not pooled
        return answer

    def _refuse_body(self, route: UpstreamRoute) -> web.Response:
        answered(route, 413)
        page = error_page(413)
        page.force_close()  # what is left of the body is not read
        return page

    def _failed(self, route: UpstreamRoute, error: Exception) -> web.Response:
        status, reason = failure(error)
        upstream_failed(route, reason, f"answered {status}: {error!r}")
        answered(route, status)
        return error_page(status, reason)


def failure(error: BaseException) -> tuple[int, str]:
    """The status and the counted reason of a failed forward."""
    if isinstance(error, errors.ConnectionTimeoutError):
        return 504, "connect_timeout"
    if isinstance(error, TimeoutError):
        return 504, "read_timeout"
    if isinstance(error, errors.ClientConnectorDNSError):
        return 502, "dns"
    if isinstance(error, errors.ClientSSLError):
        return 502, "tls"
    if isinstance(error, errors.ClientConnectorError):
        return 502, "refused"
    return 502, "broken"


class _Body:
    """A request's body as it arrives, cut off past `cap` bytes."""

    def __init__(self, request: web.BaseRequest, cap: int) -> None:
        self.request = request
        self.cap = cap
        self.too_large = False

    async def chunks(self) -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in self.request.content.iter_chunked(CHUNK_BYTES):
            sent += len(chunk)
            if sent > self.cap:
                self.too_large = True
                raise BodyTooLarge(f"over {self.cap} bytes")
            yield chunk
