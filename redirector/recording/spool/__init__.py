"""The spool: append-only files in which recorded events are durable before the database.

Each process that records events appends to a file of its own in `spool/` (`own_file`),
a record for each batch (`records`; what a record holds: `rows`): `write`, then
`fdatasync`, which is the commit a click's answer waits for. Disk space is reserved
ahead of each file's end, so that a filling disk shows as a failed reservation (logged)
while the writes still have room. No lock is shared on that path, so workers never wait
for each other or for the database. A loader (the writer process of `serve`) moves
what the files hold into the database behind them (`take`, commit, `taken`), retrying
until the database takes them.

A process holds an exclusive `flock` on its current file. A file that nobody holds
(its writer moved on to a new file, or died) is deleted once it is loaded; one with
damage (each good record in it loaded, the bad bytes skipped) is moved to
`spool/damaged/`. Files are locked before they get their name, so an empty new file is
never mistaken for a dead one. Loading is idempotent (event ids), so a file loaded twice
(a crash between the commit and the bookkeeping) records nothing twice.
"""

from redirector.recording.spool.folder import (
    DAMAGED_DIR,
    ROTATE_BYTES,
    SPOOL_DIR,
    Spool,
    Taken,
    encode,
    encode_hits,
)
from redirector.recording.spool.own_file import RESERVE_BYTES, SUFFIX, V2_SUFFIX
from redirector.recording.spool.rows import settings_free_event

__all__ = [
    "DAMAGED_DIR",
    "RESERVE_BYTES",
    "ROTATE_BYTES",
    "SPOOL_DIR",
    "SUFFIX",
    "V2_SUFFIX",
    "Spool",
    "Taken",
    "encode",
    "encode_hits",
    "settings_free_event",
]
