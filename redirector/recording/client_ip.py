"""What is kept of a client's address, per the `clicks.client_ip` setting. Pure."""

from __future__ import annotations

import functools
import hashlib
import ipaddress


# A big send's clicks come from the same addresses (gateways, offices) again and again.
@functools.lru_cache(maxsize=16384)
def stored_ip(address: str, mode: str) -> str | None:
    if mode == "none" or not address:
        return None
    if mode == "full":
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


@functools.lru_cache(maxsize=16384)
def client_key(address: str, salt: bytes) -> str:
    """A stable pseudonym of the full address, for finding bursts whatever is stored."""
    data = address.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8, key=salt[:64]).hexdigest()
