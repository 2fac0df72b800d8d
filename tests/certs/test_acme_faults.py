"""Certificates when things go wrong: rejected nonces, the CA down during a renewal, a
name the CA refuses for good."""

from __future__ import annotations

import time
from typing import Any

from certs.store import CertStore
from tests.support.cert_stack import manager_for, order

BLOCKED = "blocked.example.com"


async def test_rejected_nonces_still_end_in_a_certificate(stack_factory: Any) -> None:
    stack = await stack_factory(nonce_reject=50)
    await stack.add_host("links.example.com")
    state = await order(stack.settings, "links.example.com")
    assert state.last_error is None, state.last_error
    assert CertStore(stack.settings.data).has_certificate("links.example.com")


async def test_ca_down_during_renewal_keeps_the_old_certificate(stack_factory: Any) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    first = await order(stack.settings, "links.example.com")
    stack.certificates.reload()
    stack.pebble.stop()
    assert first.renew_at is not None
    due = first.renew_at + 1
    failed = await order(stack.settings, "links.example.com", clock=lambda: due)
    assert failed.last_error is not None
    assert failed.failures == 1
    assert failed.next_attempt is not None
    assert failed.next_attempt >= due + 45  # backs off
    assert failed.not_after == first.not_after  # the valid certificate stays
    assert (
        await stack.served_certificate("links.example.com")
    ).not_valid_after_utc.timestamp() == first.not_after
    assert stack.status("links.example.com")["certificate"]["last_error"] == failed.last_error

    stack.pebble.start()
    recovered = await order(
        stack.settings, "links.example.com", clock=lambda: failed.next_attempt + 1
    )
    assert recovered.last_error is None
    assert recovered.failures == 0
    assert recovered.not_after != first.not_after


async def test_blocklisted_name_gets_a_clear_status_not_a_loop(stack_factory: Any) -> None:
    stack = await stack_factory(blocklist=(BLOCKED,))
    await stack.add_host(BLOCKED)
    manager = manager_for(stack.settings)
    try:
        state = await manager.ensure(BLOCKED)
        assert state.blocked
        assert state.last_error is not None
        assert "rejectedIdentifier" in state.last_error or "blocked" in state.last_error.lower()
        calls: list[str] = []
        original = manager.issuer.issue

        def counting(host: str) -> tuple[bytes, bytes]:
            calls.append(host)
            return original(host)

        manager.issuer.issue = counting  # type: ignore[method-assign]
        later = manager_for(
            stack.settings, issuer=manager.issuer, clock=lambda: time.time() + 86400 * 7
        )
        try:
            assert (await later.ensure(BLOCKED)).blocked
        finally:
            later.close()
        assert calls == []  # no more orders
    finally:
        manager.close()
    assert stack.status(BLOCKED)["certificate"]["blocked"] is True
