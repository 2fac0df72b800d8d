"""Settings: one frozen `Settings`, loaded once from a TOML file and TRACKWAY_* variables."""

from config.errors import SettingsError
from config.loader import load_settings
from config.settings import RewriteSettings, ServerSettings, Settings

__all__ = ["RewriteSettings", "ServerSettings", "Settings", "SettingsError", "load_settings"]
