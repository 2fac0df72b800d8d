"""Shared state in PostgreSQL (issue 14), for several servers on one database.

`connection` opens connections (bounded waits; driver errors become `StoreUnavailable`),
`migrations` lists the schema's numbered versions (the events table derived from the
one event schema, `redirector.recording.events`), `migrate` applies them under an
advisory lock and reports them, `partitions` decides the monthly partitions (pure), and
`event_store` is the PostgreSQL `EventStore`, loaded with binary COPY (finding bursts
with the hits other servers stored), `client_salt` the client salt the servers share,
`copy` is `trackway store copy`'s steps (`CopyStep`: a data folder's state into
PostgreSQL), `keys/` and `domains/` the key ring and the domain store, `sync` the
servers' mirrors of them, and `certs/` certificates, the ACME account, challenge
answers and leases. May import `config`, `redirector` and `certs`; `proxy` wires it to
the settings (`[store] url`).
"""

from proxy.store.event_store import PostgresEventStore
from proxy.store.migrate import MigrationState, apply_migrations, migration_states
from proxy.store.migrations import MIGRATIONS, Migration

__all__ = [
    "MIGRATIONS",
    "Migration",
    "MigrationState",
    "PostgresEventStore",
    "apply_migrations",
    "migration_states",
]
