"""Output paths checked up front, before any data or model is loaded: a clear FerHubError instead of a
traceback after the work is done, and no output that is one of the inputs or another output (`check_outputs`).
Outputs are written to a temporary file renamed into place at the end (`replaced_file`): a failure or Ctrl-C
leaves what was there before."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import FerHubError, ParameterError


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


def shown_path(path: str | Path) -> str:
    """`path` as text that any stream can print and any UTF-8 reader can read: bytes of a file name that are not
    UTF-8 (kept by Python as surrogate escapes) shown as `\\xff`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def local_files(references: str | Path | Iterable[str | Path | None] | None) -> list[Path]:
    """The references (one, several or None: models, data sources) that are existing files: inputs for
    `check_outputs` (a Hub id or a folder is not among them)."""
    if references is None or isinstance(references, str | Path):
        references = [references]
    return [Path(value) for value in references if value is not None and Path(value).is_file()]


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file `path` is or links to; None when there is none."""
    try:
        status = path.stat()
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


def check_outputs(
    outputs: Iterable[tuple[str, str | Path | None]],
    inputs: Iterable[str | Path] = (),
    folders: Iterable[tuple[str, str | Path | None]] = (),
) -> None:
    """Refuses, before any work, outputs that would destroy something or that cannot be written. Each
    (parameter, path) of `outputs` (files; None and '-', stdout, are skipped) must not be one of `inputs` (the
    files the command reads, those it reads in input folders included; compared as files, so links and other
    spellings of one file count), nor the file of another output, nor an existing folder; each of `folders`
    (outputs that are folders) must not be an existing file; and every one must be writable. A ParameterError
    names the parameter at fault (the CLI shows its flag)."""
    for parameter, folder in folders:
        if folder is not None:
            try:
                check_output_dir(folder)
            except FerHubError as error:
                raise ParameterError(parameter, str(error)) from None
    read = {identity: Path(path) for path in inputs if (identity := _identity(Path(path))) is not None}
    claimed: dict[object, str] = {}
    for parameter, path in outputs:
        if path is None or str(path) == "-":
            continue
        path = Path(path)
        try:
            check_output_file(path)
        except FerHubError as error:
            raise ParameterError(parameter, str(error)) from None
        identity = _identity(path)
        if identity in read:
            source = read[identity]
            same = "" if os.path.abspath(source) == os.path.abspath(path) else f" (as {shown_path(source)})"
            raise ParameterError(
                parameter,
                f"{shown_path(path)}: is also an input{same}; writing it would destroy it, choose another path",
            )
        for key in {identity, Path(os.path.realpath(path))} - {None}:
            if key in claimed:
                other = f"the `{claimed[key]}` output" if claimed[key] != parameter else f"another `{parameter}` output"
                raise ParameterError(parameter, f"{shown_path(path)}: is also {other}; give each output its own path")
            claimed[key] = parameter


@contextmanager
def replaced_file(path: str | Path) -> Iterator[Path]:
    """A temporary file beside `path` (same suffix, so writers that choose a format by it still do) to write in;
    when the block ends normally it is renamed to `path` (os.replace: readers see the old file or the new one,
    never half of one), and when it raises (a KeyboardInterrupt too) it is removed and `path` is as before.
    Makes the missing parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        staging = path.with_name(f".{path.stem}.tmp-{secrets.token_hex(4)}{path.suffix}")
        try:
            os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask's permissions
            break
        except FileExistsError:
            continue
    try:
        yield staging
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
