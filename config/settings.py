"""The settings schema. Every field has a default so that trackway runs with no file."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from config.errors import SettingsError

DEFAULT_OPT_OUT_ATTRIBUTES = (
    "untracked",
    "clicktracking=off",
    "data-pm-no-track",
    "data-no-track",
)


@dataclass(frozen=True)
class RewriteSettings:
    # An entry `name` opts a link out when the attribute is present; `name=value` when it
    # has that value (case-insensitive), as ESPs' `clicktracking=off` does.
    opt_out_attributes: tuple[str, ...] = DEFAULT_OPT_OUT_ATTRIBUTES
    opt_out_classes: tuple[str, ...] = ("untracked",)
    label_attribute: str = "data-link-label"
    # Attributes that mark a link to open in the sender's app (iOS universal links,
    # Android App Links): signed under `/a/` instead of `/c/`, so that the association
    # files can claim `/a/*` alone. Present counts, but with the value false (or 0, no,
    # off; any case).
    app_link_attributes: tuple[str, ...] = ("universal", "data-app-link")
    # The longest tracked link emitted, base URL included; a longer one is left as it was
    # (reason `too_long`). A click's request line, `GET <path> HTTP/1.1`, must fit the
    # click server's limits: 8,190 bytes for the whole head on the fast path (a longer
    # head goes to aiohttp) and 8,190 for aiohttp's request line. At 4,096 a click with
    # a browser's headers (Chrome's from webmail: 671 bytes) stays on the fast path with
    # over 3 kB to spare, and its line takes half of aiohttp's limit; at 8,000 it still fits.
    max_link_length: int = 4096

    def __post_init__(self) -> None:
        if not MIN_LINK_LENGTH <= self.max_link_length <= MAX_LINK_LENGTH:
            raise SettingsError(
                f"rewrite.max_link_length: from {MIN_LINK_LENGTH} to {MAX_LINK_LENGTH} characters"
            )


MIN_LINK_LENGTH = 512  # shorter, and most links of an email would be left
MAX_LINK_LENGTH = 8000


@dataclass(frozen=True)
class ServerSettings:
    http: str = "127.0.0.1:8080"
    admin: str = "127.0.0.1:8081"
    https: str = ""  # HOST:PORT of the TLS listener; empty: none
    workers: int = 0  # 0: one process per core
    # A public connection's deadlines, on every path: waiting for a request (keep-alive),
    # a request's head arriving, a request's body arriving after its answer.
    idle_seconds: float = 75.0
    head_seconds: float = 15.0
    body_seconds: float = 15.0
    # Open public connections per worker; 0: what the worker's fd limit leaves room for.
    max_connections: int = 0
    # Networks (CIDR) of the proxies in front of this server, whose X-Forwarded-For is believed
    # (and, on the admin listener, X-Forwarded-Proto).
    trusted_proxies: tuple[str, ...] = ()
    # The admin page's session cookie is Secure whatever the request came over: for an
    # admin listener reached through a TLS-terminating proxy (it is plain HTTP itself).
    admin_cookie_secure: bool = False

    def __post_init__(self) -> None:
        for key in ("http", "admin", *(("https",) if self.https else ())):
            parse_host_port(getattr(self, key), f"server.{key}")
        in_range("server.workers", self.workers, 0, 1024, " (0: one per core)")
        for key in ("idle_seconds", "head_seconds", "body_seconds"):
            # At least 0.1 s: the deadline sweep runs at a fraction of the shortest.
            in_range(f"server.{key}", getattr(self, key), 0.1, 86400, " seconds")
        in_range(
            "server.max_connections", self.max_connections, 0, 1_000_000, " (0: from the fd limit)"
        )
        networks = parse_networks("server.trusted_proxies", self.trusted_proxies)
        object.__setattr__(self, "trusted_proxies", networks)


CLIENT_IP_MODES = ("full", "anonymised", "none")
POSTGRES_SCHEMES = ("postgresql", "postgres")
SYNCHRONOUS_MODES = ("full", "normal")


@dataclass(frozen=True)
class ClickSettings:
    # How much of the client address is stored: all of it, the /24 (IPv4) or /48 (IPv6)
    # network, or nothing.
    client_ip: str = "full"
    # Scanner verdicts (the `too_fast` and `burst` reasons).
    too_fast_seconds: float = 10.0
    burst_links: int = 3
    burst_seconds: float = 10.0
    # Every peer counts as a trusted proxy (server.trusted_proxies names them instead):
    # only when every connection comes through a proxy of yours.
    trust_forwarded_for: bool = False

    def __post_init__(self) -> None:
        if self.client_ip not in CLIENT_IP_MODES:
            raise SettingsError(f"clicks.client_ip: one of {', '.join(CLIENT_IP_MODES)}")
        in_range("clicks.too_fast_seconds", self.too_fast_seconds, 0, 86400, " seconds")
        in_range("clicks.burst_links", self.burst_links, 2, 1000, " links")
        in_range("clicks.burst_seconds", self.burst_seconds, None, 3600, " seconds")


@dataclass(frozen=True)
class StoreSettings:
    # SQLite `synchronous`: "full" survives power loss, "normal" (WAL) survives a crash
    # of the server process but may lose the last commits on power loss. The same for
    # the spool: "full" syncs each batch to disk before its clicks are answered.
    synchronous: str = "full"
    # How often spooled events are retried into the database.
    spool_retry_seconds: float = 5.0
    busy_timeout_ms: int = 2000
    # "idle": while clicks keep the CPUs busy, the writer process loads the spool into
    # the database with a tenth of one CPU (the database lags behind the spool) until
    # 64 MiB wait, then at full speed; "normal": always at full speed, beside the workers.
    load_priority: str = "idle"
    # "postgresql://user:pass@host:5432/trackway" (issue 14): events are loaded into
    # PostgreSQL, shared by several servers; empty: SQLite in the data folder. Holds a
    # password: never logged or repr'd (`redacted_store_url` shows it).
    url: str = field(default="", repr=False)
    # PostgreSQL: months of events older than this are dropped (whole partitions); 0: kept.
    retention_days: int = 0

    def __post_init__(self) -> None:
        url = self.url.strip()
        object.__setattr__(self, "url", url)
        if url and urlsplit(url).scheme not in POSTGRES_SCHEMES:
            raise SettingsError("store.url: a postgresql://user:password@host:port/db URL")
        in_range("store.retention_days", self.retention_days, 0, 100 * 366, " days (0: keep)")
        if self.synchronous not in SYNCHRONOUS_MODES:
            raise SettingsError(f"store.synchronous: one of {', '.join(SYNCHRONOUS_MODES)}")
        if self.load_priority not in ("idle", "normal"):
            raise SettingsError("store.load_priority: one of idle, normal")
        in_range("store.spool_retry_seconds", self.spool_retry_seconds, None, 3600, " seconds")
        in_range("store.busy_timeout_ms", self.busy_timeout_ms, 0, 60_000, " milliseconds")


@dataclass(frozen=True)
class DnsSettings:
    # "IP" or "IP:PORT" each; empty: the system's resolvers.
    nameservers: tuple[str, ...] = ()
    timeout: float = 3.0

    def __post_init__(self) -> None:
        in_range("dns.timeout", self.timeout, None, 60, " seconds")


@dataclass(frozen=True)
class CheckSettings:
    # Ports the domain checks connect to (settings, so that tests run unprivileged).
    http_port: int = 80
    https_port: int = 443
    ca_bundle: str = ""  # extra trust for the HTTPS and HSTS checks (PEM file)
    interval: float = 3600.0  # seconds between periodic checks of every host
    timeout: float = 5.0
    # Networks (CIDR) the HTTP/HTTPS/HSTS checks may connect to besides public addresses:
    # by default never loopback, private, link-local or metadata addresses.
    allowed_networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in ("http_port", "https_port"):
            in_range(f"checks.{key}", getattr(self, key), 1, 65535, " (a port)")
        networks = parse_networks("checks.allowed_networks", self.allowed_networks)
        object.__setattr__(self, "allowed_networks", networks)
        in_range("checks.interval", self.interval, None, 7 * 86400, " seconds")
        in_range("checks.timeout", self.timeout, None, 120, " seconds")


@dataclass(frozen=True)
class ProxySettings:
    """Reverse-proxy mode: how requests to a proxied host reach its upstream."""

    connect_timeout: float = 3.0  # seconds to connect (TLS included): then 504
    read_timeout: float = 30.0  # seconds between two reads of the upstream's answer: then 504
    max_body_bytes: int = 10 * 1024 * 1024  # a longer request body: 413
    ca_bundle: str = ""  # PEM file: CAs trusted for upstreams besides the system's
    # A plain-HTTP request to a proxied host: forwarded (false, so that old http links
    # keep working), or answered with a 308 to its https URL (true).
    redirect_http: bool = False

    def __post_init__(self) -> None:
        in_range("proxy.connect_timeout", self.connect_timeout, None, 300, " seconds")
        in_range("proxy.read_timeout", self.read_timeout, None, 3600, " seconds")
        in_range("proxy.max_body_bytes", self.max_body_bytes, 0, 1 << 40, " bytes")


LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
# Names for Let's Encrypt's directories: staging's certificates are not trusted, but its
# limits are far higher, so a first run's mistakes cost nothing.
DIRECTORY_NAMES = {"production": LETS_ENCRYPT, "staging": LETS_ENCRYPT_STAGING}
KEY_TYPES = ("ecdsa", "rsa")


@dataclass(frozen=True)
class AcmeSettings:
    directory: str = LETS_ENCRYPT  # a URL, or "staging" / "production" (Let's Encrypt)
    email: str = ""
    eab_kid: str = ""  # External Account Binding, for CAs that require it
    eab_hmac_key: str = field(default="", repr=False)
    ca_bundle: str = ""  # trust for the directory's own TLS (tests: Pebble's)
    key_type: str = "ecdsa"  # certificate keys: ECDSA P-256, or "rsa" (2048 bits)
    check_interval: float = 300.0  # seconds between renewal checks
    enabled: bool = True
    # "http-01" (the public listener answers) or "tls-alpn-01" (the HTTPS listener does,
    # for when port 80 cannot reach this server).
    challenge: str = "http-01"

    def __post_init__(self) -> None:
        directory = DIRECTORY_NAMES.get(self.directory, self.directory)
        object.__setattr__(self, "directory", directory)
        if not self.directory.startswith(("https://", "http://")):
            raise SettingsError('acme.directory: a directory URL, "staging" or "production"')
        if self.challenge not in ("http-01", "tls-alpn-01"):
            raise SettingsError("acme.challenge: http-01 or tls-alpn-01")
        if self.key_type not in KEY_TYPES:
            raise SettingsError(f"acme.key_type: one of {', '.join(KEY_TYPES)}")
        if bool(self.eab_kid) != bool(self.eab_hmac_key):
            raise SettingsError("acme.eab_kid and acme.eab_hmac_key go together")
        in_range("acme.check_interval", self.check_interval, None, 86400, " seconds")


@dataclass(frozen=True)
class Settings:
    data: Path = Path("./trackway-data")
    # The default tracking base (scheme://host[:port]) used when no other is given.
    base_url: str = ""
    # Hosts whose links are already tracked by us and must never be wrapped again.
    tracking_hosts: tuple[str, ...] = ()
    rewrite: RewriteSettings = field(default_factory=RewriteSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    clicks: ClickSettings = field(default_factory=ClickSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    checks: CheckSettings = field(default_factory=CheckSettings)
    # Region -> its default tracking host, the CNAME target of that region's custom
    # hosts (e.g. us = "t.trackway.example"). The first region is the default one.
    regions: dict[str, str] = field(default_factory=dict)
    acme: AcmeSettings = field(default_factory=AcmeSettings)
    proxy: ProxySettings = field(default_factory=ProxySettings)

    def __post_init__(self) -> None:
        if self.base_url:
            object.__setattr__(self, "base_url", normalise_base_url(self.base_url, "base_url"))
        hosts = tuple(h.strip().lower() for h in self.tracking_hosts if h.strip())
        object.__setattr__(self, "tracking_hosts", hosts)
        regions = {}
        for region, host in self.regions.items():
            host = host.strip().lower().rstrip(".")
            # A name: custom hosts are CNAMEs to it, which cannot point at an IP address.
            if not host or "/" in host or ":" in host or is_ip_literal(host):
                raise SettingsError(f"regions.{region}: a host name such as t.trackway.example")
            regions[region] = host
        object.__setattr__(self, "regions", regions)

    @property
    def default_region(self) -> str | None:
        return next(iter(self.regions), None)

    def default_link_base(self, region: str | None = None) -> str:
        """Where links go when a custom host cannot be used: the region's default host."""
        host = self.regions.get(region or "") or self.regions.get(self.default_region or "")
        if host:
            return f"https://{host}"
        return self.base_url

    def own_hosts(self) -> frozenset[str]:
        """Every host whose links are ours: the configured ones and the base URL's."""
        hosts = set(self.tracking_hosts) | set(self.regions.values())
        if self.base_url:
            hosts.add((urlsplit(self.base_url).hostname or "").lower())
        return frozenset(hosts)


def normalise_base_url(value: str, key: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{key}: expected an http(s) URL such as https://links.example.com")
    if parts.query or parts.fragment:
        raise SettingsError(f"{key}: a base URL has no query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def redacted_store_url(url: str) -> str:
    """`url` without its password, in the user part or as `?password=` (what may be
    printed or logged). Pure."""
    parts = urlsplit(url)
    if parts.password is not None:
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = "&".join(
        "password=***" if pair.partition("=")[0] == "password" else pair
        for pair in parts.query.split("&")
    )
    return parts._replace(query=query).geturl()


def in_range(key: str, value: float, low: float | None, high: float, unit: str = "") -> None:
    """SettingsError naming `key` unless low <= value <= high; with `low` None, unless
    0 < value <= high. NaN is in no range."""
    ok = (value > 0 if low is None else value >= low) and value <= high
    if not ok:
        span = f"more than 0, at most {high}" if low is None else f"from {low} to {high}"
        raise SettingsError(f"{key}: {span}{unit}, got {value!r}")


def parse_networks(key: str, values: tuple[str, ...]) -> tuple[str, ...]:
    """CIDR networks (a bare address is its own network), normalised; SettingsError
    naming `key` for anything else."""
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise SettingsError(
                f"{key}: {value!r} is not an address or a network such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


def is_ip_literal(name: str) -> bool:
    """An address in any form a resolver takes for one (127.1, 0x7f.1, 0177.0.0.1 …);
    and a numeric last label, which no top-level domain is (RFC 3696 §2). Pure."""
    try:
        socket.inet_aton(name)  # parses, no I/O
    except OSError:
        return name.rpartition(".")[2].isdigit()
    return True


def parse_host_port(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{key}: expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)
