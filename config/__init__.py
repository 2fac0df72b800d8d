"""Settings: one frozen `Settings`, loaded once from a TOML file and TRACKWAY_* variables."""

from config.errors import SettingsError
from config.loader import load_settings
from config.settings import (
    AcmeSettings,
    CheckSettings,
    ClickSettings,
    DnsSettings,
    RewriteSettings,
    ServerSettings,
    Settings,
    StoreSettings,
)

__all__ = [
    "AcmeSettings",
    "CheckSettings",
    "ClickSettings",
    "DnsSettings",
    "RewriteSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StoreSettings",
    "load_settings",
]
