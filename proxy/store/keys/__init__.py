"""The signing key ring in PostgreSQL (`[store] url`), keys.json its mirror on each
server: `ring` reads, rotates and retires it (without a database: the file alone),
`plan` decides what the mirror needs (pure), `sync` keeps a running server's mirror in
step, `copy` puts a data folder's ring into the database (`trackway store copy`)."""

from proxy.store.keys.copy import copy_keys
from proxy.store.keys.ring import current_keyring, retire, rotate
from proxy.store.keys.sync import keep_keys_in_step

__all__ = ["copy_keys", "current_keyring", "keep_keys_in_step", "retire", "rotate"]
