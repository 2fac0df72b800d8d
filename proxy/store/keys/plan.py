"""What the key ring's mirror (keys.json) needs, given the database's ring. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from redirector.links.keyring import SigningKey

__all__ = ["MirrorPlan", "in_order", "mirror_plan"]


class MirrorPlan(NamedTuple):
    seed: bool  # the database has no key yet: it takes this server's ring
    write: bool  # keys.json is not the database's ring: replaced by it
    keep_local: bool  # keys.json holds keys the database lacks: kept aside first


def in_order(keys: Sequence[SigningKey]) -> tuple[SigningKey, ...]:
    """As the database lists them (and keys.json is written): oldest first."""
    return tuple(sorted(keys, key=lambda k: (k.created_at, k.key_id)))


def mirror_plan(local: Sequence[SigningKey] | None, shared: Sequence[SigningKey]) -> MirrorPlan:
    """`local`: the keys of keys.json, None when there is none (an unreadable file is
    the caller's to keep aside). A key retired meanwhile is no loss; a key (id and
    secret) only this server has would be one."""
    if not shared:
        return MirrorPlan(seed=True, write=False, keep_local=False)
    if local is None:
        return MirrorPlan(seed=False, write=True, keep_local=False)
    known = {(k.key_id, k.secret) for k in shared}
    return MirrorPlan(
        seed=False,
        write=in_order(local) != in_order(shared),
        keep_local=any((k.key_id, k.secret) not in known for k in local),
    )
