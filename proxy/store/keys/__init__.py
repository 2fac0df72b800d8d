"""The signing key ring in PostgreSQL (`[store] url`), keys.json its mirror on each
server: `ring` reads, rotates and retires it (without a database: the file alone),
`plan` decides what the mirror needs (pure), `copy` puts a data folder's ring into the
database (`trackway store copy`). `proxy.store.sync` keeps a running server's mirror in
step."""

from proxy.store.keys.copy import copy_keys
from proxy.store.keys.ring import current_keyring, retire, rotate

__all__ = ["copy_keys", "current_keyring", "retire", "rotate"]
