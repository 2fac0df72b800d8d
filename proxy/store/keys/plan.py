"""What the key ring's mirror (keys.json) and `store copy` need, given the database's
ring. Pure.

Retirement only moves forward: a key (id and secret) retired on one side and not, or
later, on the other is retired everywhere at the earliest time, so a leaked key retired
in a data folder alone never comes back to life through the database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from config.errors import Conflict
from redirector.links.keyring import SigningKey

__all__ = ["CopyPlan", "KeyIdTaken", "MirrorPlan", "copy_plan", "in_order", "mirror_plan"]


class KeyIdTaken(Conflict):
    """A key id the database holds with another secret (never shown)."""


class MirrorPlan(NamedTuple):
    seed: bool  # the database has no key yet: it takes this server's ring
    write: bool  # keys.json is not the database's ring: replaced by it
    keep_local: bool  # keys.json holds keys the database lacks: kept aside first
    retire: tuple[SigningKey, ...] = ()  # retired here first: so in the database too


class CopyPlan(NamedTuple):
    add: tuple[SigningKey, ...]  # the database lacks them
    retire: tuple[SigningKey, ...]  # retired here first: so in the database too


def in_order(keys: Sequence[SigningKey]) -> tuple[SigningKey, ...]:
    """As the database lists them (and keys.json is written): oldest first."""
    return tuple(sorted(keys, key=lambda k: (k.created_at, k.key_id)))


def mirror_plan(local: Sequence[SigningKey] | None, shared: Sequence[SigningKey]) -> MirrorPlan:
    """`local`: the keys of keys.json, None when there is none (an unreadable file is
    the caller's to keep aside). A key retired meanwhile is no loss; a key (id and
    secret) only this server has would be one, and so would a retirement."""
    if not shared:
        return MirrorPlan(seed=True, write=False, keep_local=False)
    if local is None:
        return MirrorPlan(seed=False, write=True, keep_local=False)
    known = {(k.key_id, k.secret) for k in shared}
    return MirrorPlan(
        seed=False,
        write=in_order(local) != in_order(shared),
        keep_local=any((k.key_id, k.secret) not in known for k in local),
        retire=_retired_first(local, shared),
    )


def copy_plan(local: Sequence[SigningKey], shared: Sequence[SigningKey]) -> CopyPlan:
    """A data folder's keys into the database's ring. KeyIdTaken (naming the key, never
    a secret) when an id is the database's with another secret: two keys one token
    could not tell apart."""
    by_id = {k.key_id: k for k in shared}
    for key in local:
        held = by_id.get(key.key_id)
        if held is not None and held.secret != key.secret:
            raise KeyIdTaken(
                f"key {key.key_id}: the database holds another key with this id; "
                "nothing of the key ring copied"
            )
    return CopyPlan(
        add=in_order([k for k in local if k.key_id not in by_id]),
        retire=_retired_first(local, shared),
    )


def _retired_first(
    local: Sequence[SigningKey], shared: Sequence[SigningKey]
) -> tuple[SigningKey, ...]:
    """The keys of `local` whose retirement `shared` (same id and secret) lacks or has later."""
    by_id = {k.key_id: k for k in shared}
    return in_order(
        [
            k
            for k in local
            if k.retired_at is not None
            and (held := by_id.get(k.key_id)) is not None
            and held.secret == k.secret
            and (held.retired_at is None or k.retired_at < held.retired_at)
        ]
    )
