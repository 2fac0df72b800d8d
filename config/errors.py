class SettingsError(ValueError):
    """A setting is unknown or has a wrong value; the message names the key."""
