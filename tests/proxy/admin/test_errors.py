"""One translation of the error tree to HTTP statuses, through a real admin app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config.errors import Conflict, InvalidInput, NotFound, TrackwayError, Unavailable
from proxy.admin.errors import error_responses, http_status
from proxy.admin.query import QueryError
from redirector.links.errors import BadSignature, KeyRingError, UnknownKeyId
from redirector.recording.event_store import StoreUnavailable


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("x"), 400),
        (QueryError("limit: a whole number"), 400),
        (BadSignature(), 400),
        (KeyRingError("every key is retired"), 400),
        (NotFound("no such domain"), 404),
        (UnknownKeyId("no key with id 'ab'"), 404),  # bad input that names nothing
        (Conflict("belongs to another domain"), 409),
        (Unavailable("the CA"), 503),
        (StoreUnavailable("database unavailable: locked"), 503),
        (TrackwayError("of no kind"), 400),
    ],
)
def test_each_kind_has_one_status(error: TrackwayError, status: int) -> None:
    assert http_status(error) == status


async def test_handlers_raise_and_the_middleware_answers(
    aiohttp_client: Callable[
        [web.Application], Awaitable[TestClient[web.Request, web.Application]]
    ],
) -> None:
    async def missing(request: web.Request) -> web.Response:
        raise NotFound("no domain or tracking host nope.example")

    async def broken(request: web.Request) -> web.Response:
        raise ZeroDivisionError  # not ours: aiohttp's 500, never our message

    app = web.Application(middlewares=[error_responses])
    app.router.add_get("/missing", missing)
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    resp = await client.get("/missing")
    assert resp.status == 404
    assert await resp.json() == {"error": "no domain or tracking host nope.example"}
    assert (await client.get("/broken")).status == 500
