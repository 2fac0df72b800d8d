"""The data folder: where state lives, the owner's alone: folders 0700, files 0600
(secrets written atomically)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from config.errors import InvalidInput


class DataFolderError(InvalidInput):
    """The data folder cannot be made or written; the message says why, in one line."""


def ensure_data_dir(path: Path) -> Path:
    """`path`, made 0700 if missing, and so is each missing folder above it (`mkdir -p`
    would make those 0777 less the umask)."""
    try:
        path.mkdir(mode=0o700, exist_ok=True)
    except FileNotFoundError:
        ensure_data_dir(path.parent)
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def close_to_others(path: Path) -> str | None:
    """Make an existing data folder the owner's alone if others may enter or read it;
    what was done (or why it could not be), in one line; None if it was private."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return None
    try:
        path.chmod(0o700)
    except OSError as e:
        return f"the data folder {path} is open to others ({mode:04o}): {e.strerror or e}"
    return f"the data folder {path} was open to others ({mode:04o}): now 0700"


def create_private_file(path: Path) -> Path:
    """`path`, made empty and 0600 if missing: for SQLite, which would make a database
    0644 less the umask, and gives its -wal and -shm files the database's mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


def check_data_folder(path: Path) -> Path:
    """The data folder, made if missing and shown to take files: every command checks
    it first, so that a wrong `--data` is one clear line, not a traceback later."""
    try:
        ensure_data_dir(path)
    except FileExistsError:
        raise DataFolderError(f"{path} is a file, not a folder") from None
    except OSError as e:
        raise DataFolderError(f"cannot make the folder {path}: {e.strerror or e}") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise DataFolderError(f"cannot write in {path}: {e.strerror or e}") from None
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by the owner only, never half-written."""
    ensure_data_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def file_version(path: Path) -> tuple[int, int, int]:
    """What tells one content of a file from another, for those who follow it: trackway
    replaces a file (a new inode), an editor may write it in place (its time and size);
    (0, 0, 0) when there is none."""
    try:
        found = path.stat()
    except OSError:
        return (0, 0, 0)
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def unused_path(path: Path) -> Path:
    """`path`, or the first of `path`-2, -3 … not taken: a copy kept aside twice within
    a second overwrites nothing."""
    found, number = path, 1
    while found.exists():
        number += 1
        found = path.with_name(f"{path.name}-{number}")
    return found


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes sharing the data folder."""
    ensure_data_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_or_create_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret in `path`, made by `make` (and stored 0600) on first use;
    DataFolderError, in one line, when it cannot be read or made."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise DataFolderError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        with file_lock(path.with_name(f".{path.name}.lock")):
            if not path.exists():
                write_private_file(path, make())
            return path.read_bytes()
    except OSError as e:
        raise DataFolderError(f"cannot make {path}: {e.strerror or e}") from None
