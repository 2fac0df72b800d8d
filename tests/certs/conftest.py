"""Fixtures of the certificate tests: the test DNS and stacks with Pebble on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cert_stack import Stack
from tests.support.challtestsrv import ChallTestSrv
from tests.support.challtestsrv import dns as dns


@pytest.fixture
async def stack_factory(tmp_path: Path, dns: ChallTestSrv) -> AsyncIterator[Any]:
    """`await stack_factory(alpn=False, **pebble_options)`: a started stack."""
    stacks: list[Stack] = []

    async def make(**pebble: Any) -> Stack:
        stack = Stack(tmp_path / f"s{len(stacks)}", dns, **pebble)
        stacks.append(stack)
        await stack.start()
        return stack

    yield make
    for stack in stacks:
        await stack.stop()
