"""Output paths checked up front, before any data or model is loaded: a clear FerHubError instead of a
traceback after the work is done."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import FerHubError


def _existing_ancestor(path: Path) -> Path:
    """`path` itself if it exists, else its nearest existing parent folder."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_can_create_in(folder: Path, shown: Path) -> None:
    """A file can be created in `folder` (tried, not guessed from permission bits: root, read-only mounts, /proc)."""
    if not folder.is_dir():
        raise FerHubError(f"{shown}: {folder} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".fer-hub-write-test-", dir=folder)
    except OSError as error:
        raise FerHubError(f"{shown}: cannot write in {folder} ({error.strerror or error})") from None
    os.close(handle)
    os.unlink(probe)


def check_output_dir(path: str | Path) -> Path:
    """A folder that exists or can be created, and in which files can be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FerHubError(f"{path}: exists and is not a folder; choose a folder for the output")
    _check_can_create_in(_existing_ancestor(path), path)
    return path


def check_output_file(path: str | Path) -> Path:
    """A file path that is not a folder and whose folder exists or can be created, and is writable."""
    if str(path).endswith(("/", os.sep)) or Path(path).is_dir():
        raise FerHubError(f"{path}: is a folder; give a file path for the output")
    path = Path(path)
    _check_can_create_in(_existing_ancestor(path.parent), path)
    return path
