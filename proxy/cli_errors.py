class CliError(Exception):
    """A user-facing failure: printed as `trackway: message`, exit status 1."""
