from __future__ import annotations

from pathlib import Path

from certs.lease import SqliteLeases as Leases


def test_one_holder_at_a_time_until_the_lease_expires(tmp_path: Path) -> None:
    first, second = Leases(tmp_path), Leases(tmp_path)  # two processes' views
    try:
        assert first.acquire("links.example.com", now=100.0, seconds=60)
        assert not second.acquire("links.example.com", now=120.0, seconds=60)
        assert second.acquire("other.example.com", now=120.0, seconds=60)  # per name
        assert first.acquire("links.example.com", now=130.0, seconds=60)  # renewed by its holder
        assert second.acquire("links.example.com", now=191.0, seconds=60)  # expired: taken over
        assert not first.acquire("links.example.com", now=192.0, seconds=60)
        second.release("links.example.com")
        assert first.acquire("links.example.com", now=193.0, seconds=60)
    finally:
        first.close()
        second.close()
