"""The public click path: `/c/<token>` (302 to the signed URL), `/o/<token>` (the open
pixel), `/healthz`.

`fast_path` answers plain HTTP/1.1 requests itself (parsed by `request_head`) and hands
any other to aiohttp; `routes` holds the answers both paths give, and both read the
client's address the same way (`client_address`: X-Forwarded-For from trusted proxies
only). The hot path reads
memory only: it verifies against the in-memory key ring and hands a hit to the
recording writer. Imports `redirector.links`, `redirector.recording` and `config`.
"""

from redirector.clicks.client_address import TrustedProxies
from redirector.clicks.fast_path import ClickConnections
from redirector.clicks.routes import ClickState, PrefixHandler, PublicHandler, not_found

__all__ = [
    "ClickConnections",
    "ClickState",
    "PrefixHandler",
    "PublicHandler",
    "TrustedProxies",
    "not_found",
]
