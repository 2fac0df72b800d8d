"""Settings and the error tree: what every other package may import, importing nothing
of ours.

`settings` declares one frozen `Settings` (every field has a default), `loader` builds
it once from a TOML file and TRACKWAY_* variables, `datafolder` writes the data folder's
files (0600, atomically), `errors` is the one error tree (`TrackwayError` and its kinds).
"""

from config.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    SettingsError,
    TrackwayError,
    Unavailable,
)
from config.loader import load_settings
from config.settings import (
    AcmeSettings,
    CheckSettings,
    ClickSettings,
    DnsSettings,
    ProxySettings,
    RewriteSettings,
    ServerSettings,
    Settings,
    StoreSettings,
    redacted_store_url,
)

__all__ = [
    "AcmeSettings",
    "CheckSettings",
    "ClickSettings",
    "Conflict",
    "DnsSettings",
    "InvalidInput",
    "NotFound",
    "ProxySettings",
    "RewriteSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StoreSettings",
    "TrackwayError",
    "Unavailable",
    "load_settings",
    "redacted_store_url",
]
