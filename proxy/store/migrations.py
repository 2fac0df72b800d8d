"""The schema's versions, numbered: each one applied once, in order (`migrate`).

A version, once released, is never edited: a change is a new version at the end. The
events table's columns derive from the one event schema (`events.COLUMNS`); a field
added to `Event` later becomes a column by itself (`missing_event_columns`, added at
every migrate), as in SQLite; anything else (an index, a type) is a new version here.
"""

from __future__ import annotations

from dataclasses import dataclass

from redirector.recording.events import COLUMNS, NULLABLE_COLUMNS

__all__ = ["EVENT_COLUMN_TYPES", "MIGRATIONS", "Migration", "event_column_sql"]

# Python type of a column (events.COLUMNS) -> PostgreSQL's. Text compares by code
# point (COLLATE "C"), as SQLite and Python do: paging by id, and MIN(url) in stats.
_SQL_TYPES = {str: 'text COLLATE "C"', float: "double precision", int: "bigint"}
# The same, as binary COPY names them.
_COPY_TYPES = {str: "text", float: "float8", int: "int8"}
EVENT_COLUMN_TYPES = tuple(_COPY_TYPES[tp] for tp in COLUMNS.values())


def event_column_sql(name: str) -> str:
    not_null = "" if name in NULLABLE_COLUMNS else " NOT NULL"
    return f"{name} {_SQL_TYPES[COLUMNS[name]]}{not_null}"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, partitioned by month",
        (
            # The key holds the partition key (PostgreSQL requires it); an event loaded
            # twice has the same id and time, so it is stored once all the same. Ranges of
            # `time` (unix seconds): one partition a month, made when its first event comes,
            # so retention drops whole months.
            "CREATE TABLE events ({}, PRIMARY KEY (id, time)) PARTITION BY RANGE (time)".format(
                ", ".join(event_column_sql(name) for name in COLUMNS)
            ),
            # As in SQLite: per-message queries, stats and burst re-marks.
            "CREATE INDEX events_message_time ON events (message_id, time)",
        ),
    ),
    # 10..19: the key ring and the domain store (shared by every server).
    Migration(
        10,
        "state versions, signing keys",
        (
            # A row per kind of shared state, bumped in the same transaction as each of its
            # writes: what servers poll to see another one's change within seconds.
            "CREATE TABLE state_versions (name text PRIMARY KEY, version bigint NOT NULL)",
            "INSERT INTO state_versions (name, version) VALUES ('keys', 0), ('domains', 0)",
            # As keys.json holds them (the secret as is: the database is as private as
            # the data folder).
            "CREATE TABLE signing_keys (id text PRIMARY KEY, secret bytea NOT NULL, "
            "created_at bigint NOT NULL, retired_at bigint)",
        ),
    ),
    Migration(
        11,
        "sending domains, tracking hosts",
        (
            # The columns of domains.db (`proxy.domains.store`); checks and status JSON.
            "CREATE TABLE sending_domains (name text PRIMARY KEY, token text NOT NULL, "
            "verified boolean NOT NULL, created_at double precision NOT NULL, "
            "verified_at double precision, last_error text)",
            "CREATE TABLE tracking_hosts (host text PRIMARY KEY, sending_domain text NOT NULL, "
            "region text NOT NULL, created_at double precision NOT NULL, checks text, "
            "status text, checked_at double precision, mode text NOT NULL DEFAULT 'redirect', "
            "upstream text, host_header text NOT NULL DEFAULT 'custom', "
            "apple_app_site_association text, assetlinks text)",
            "CREATE INDEX tracking_hosts_domain ON tracking_hosts (sending_domain)",
        ),
    ),
    Migration(
        12,
        "shared secrets",
        (
            # The domain checks' secret (check-secret in the data folder): a check made by
            # one server may be answered by another, which must answer the same token.
            "CREATE TABLE shared_secrets (name text PRIMARY KEY, value bytea NOT NULL)",
        ),
    ),
    Migration(
        13,
        "the store's identity",
        (
            # Made once, at random: what a server's domains.db records as the database it
            # mirrors, so that its first mirror of this database keeps aside what only it
            # held, and a later one (a domain removed on another server) does not.
            "CREATE TABLE store_identity (only_row boolean PRIMARY KEY DEFAULT true "
            "CHECK (only_row), id text NOT NULL)",
            "INSERT INTO store_identity (id) VALUES (md5(random()::text || clock_timestamp()))",
        ),
    ),
    Migration(
        20,
        "certificates, the ACME account, challenge answers, leases",
        (
            # A lease per name: its token grows at each new holder (fencing), and a
            # release keeps the row so that the next token is greater still.
            "CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, "
            "expires double precision NOT NULL, token bigint NOT NULL)",
            # Each write takes the next version (under an advisory lock, so versions
            # commit in order): the servers' mirrors pull what is above theirs.
            "CREATE SEQUENCE certificate_versions",
            "CREATE TABLE certificates (host text PRIMARY KEY, chain bytea, key bytea, "
            "state jsonb NOT NULL, fence bigint NOT NULL DEFAULT 0, "
            "version bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
            "CREATE INDEX certificates_version ON certificates (version)",
            "CREATE TABLE acme_account_key (id integer PRIMARY KEY CHECK (id = 1), "
            "key_pem bytea NOT NULL)",
            "CREATE TABLE acme_registrations (directory text PRIMARY KEY, account text NOT NULL)",
            "CREATE TABLE acme_challenges (token text PRIMARY KEY, "
            "key_authorization text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
            "CREATE TABLE acme_tls_alpn (host text PRIMARY KEY, cert_pem bytea NOT NULL, "
            "key_pem bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
        ),
    ),
    Migration(
        30,
        "servers: the shared client salt, events by client",
        (
            # One row: the key of client_key's hash, the same on every server, so that a
            # client's hits on two servers have one key (bursts across servers).
            "CREATE TABLE client_salt (only_row boolean PRIMARY KEY DEFAULT true "
            "CHECK (only_row), salt bytea NOT NULL)",
            # A loader looks up the stored hits of its batch's clients (any server's);
            # its prefix serves the per-message queries the index it replaces did (one
            # index beside the key: each costs every insert).
            "CREATE INDEX events_client ON events (message_id, client_key, time)",
            "DROP INDEX events_message_time",
        ),
    ),
    Migration(
        31,
        "which loader stored events of which minute",
        (
            # A loader looks up its batch's clients (a probe of events_client each) only
            # when another loader stored events near the batch's times: alone, never.
            "CREATE TABLE event_loads (minute bigint NOT NULL, loader text NOT NULL, "
            "PRIMARY KEY (minute, loader))",
        ),
    ),
)
