"""The public click path: `/c/<token>` (302 to the signed URL), `/a/<token>` (an app
link: the same, or the URL as JSON to an app that asks, `app_resolve`), `/o/<token>`
(the open pixel), `/healthz`.

`fast_path` answers plain HTTP/1.1 requests itself (parsed by `request_head`) and hands
any other to aiohttp (`fallback`); `routes` holds the answers both paths give. Both
paths keep their connections in one table (`connections`) under one policy
(`deadlines`: idle, head and body deadlines, a connection cap), read the client's
address the same way (`client_address`, X-Forwarded-For from trusted proxies only) and
count malformed requests, logging a few (`log_budget`). The hot path reads memory only:
it verifies against the in-memory key ring and hands a hit to the recording writer.
Imports `redirector.links`, `redirector.recording` and `config`.
"""

from redirector.clicks.client_address import TrustedProxies
from redirector.clicks.connections import ClickConnections, fd_limit
from redirector.clicks.deadlines import ConnectionLimits
from redirector.clicks.routes import ClickState, PrefixHandler, PublicHandler, not_found

__all__ = [
    "ClickConnections",
    "ClickState",
    "ConnectionLimits",
    "PrefixHandler",
    "PublicHandler",
    "TrustedProxies",
    "fd_limit",
    "not_found",
]
