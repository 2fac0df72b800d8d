"""The ACME account: its key, and its registration at each CA directory.

`AccountStore` is the interface. `FileAccount` keeps them in the data folder
(`acme/account-key.pem`, 0600, and `acme/account.json`): one server. `proxy.store` has
the PostgreSQL backend, one account for every server of a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from config.datafolder import ensure_data_dir, read_or_create_secret, write_private_file

__all__ = ["ACCOUNT_FILE", "ACCOUNT_KEY_FILE", "AccountStore", "FileAccount"]

ACCOUNT_KEY_FILE = "acme/account-key.pem"
ACCOUNT_FILE = "acme/account.json"


class AccountStore(Protocol):
    def key_pem(self, make: Callable[[], bytes]) -> bytes:
        """The account key (PEM), made by `make` the first time (once, whoever asks)."""
        ...

    def registration(self, directory: str) -> str | None:
        """The account registered at `directory` (the `acme` package's JSON), if any."""
        ...

    def save_registration(self, directory: str, account_json: str) -> None: ...

    def forget_registration(self, directory: str) -> None:
        """The CA no longer knows it: the next order registers anew."""
        ...


class FileAccount:
    def __init__(self, data: Path) -> None:
        self.data = data

    def key_pem(self, make: Callable[[], bytes]) -> bytes:
        return read_or_create_secret(self.data / ACCOUNT_KEY_FILE, make)

    def registration(self, directory: str) -> str | None:
        return self.registrations().get(directory)  # another CA's: register there

    def registrations(self) -> dict[str, str]:
        """Directory -> account (the file holds the last one registered)."""
        try:
            doc = json.loads((self.data / ACCOUNT_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict):
            return {}
        directory, account = doc.get("directory"), doc.get("account")
        if isinstance(directory, str) and isinstance(account, str):
            return {directory: account}
        return {}

    def save_registration(self, directory: str, account_json: str) -> None:
        path = self.data / ACCOUNT_FILE
        ensure_data_dir(path.parent)
        write_private_file(
            path, json.dumps({"directory": directory, "account": account_json}).encode()
        )

    def forget_registration(self, directory: str) -> None:
        (self.data / ACCOUNT_FILE).unlink(missing_ok=True)
