"""The admin API's one translation of errors: each kind of `TrackwayError` to its HTTP
status, with the message as `{"error": …}`. Handlers raise; none picks a status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from config.errors import Conflict, InvalidInput, NotFound, TrackwayError, Unavailable

# Most specific first: an error may be of two kinds (an unknown key id is bad input
# that names nothing), and the first that matches says it best.
HTTP_STATUS: tuple[tuple[type[TrackwayError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
    (InvalidInput, 400),
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def http_status(error: TrackwayError) -> int:
    return next((status for kind, status in HTTP_STATUS if isinstance(error, kind)), 400)


def error_response(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_responses(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except TrackwayError as e:
        return error_response(str(e), http_status(e))
