"""Whom trackway trusts for an upstream's TLS: the system's CAs and `[proxy] ca_bundle`.

One context for the forwarder and for the domain checks' upstream probe, so that the
status says "ok" only for an upstream the forwarder would reach too.
"""

from __future__ import annotations

import ssl

from config import ProxySettings


def upstream_tls_context(proxy: ProxySettings) -> ssl.SSLContext:
    """Verifying (the upstream's name is the caller's SNI and the name checked)."""
    context = ssl.create_default_context()
    if proxy.ca_bundle:
        context.load_verify_locations(proxy.ca_bundle)
    return context
