"""Reading a user's text file (plain or gzip) line by line in bounded memory: a UTF-8 byte-order mark (as Excel
writes) is dropped, an over-long line or unreadable bytes are one FerHubError naming the file."""

from __future__ import annotations

import contextlib
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

from ..errors import FerHubError

MAX_LINE_CHARS = 1 << 20  # a FER2013 row is under 10,000 characters; a longer line is not a row


def _lines(handle, path: Path, max_chars: int) -> Iterator[str]:
    number = 0
    while True:
        try:
            line = handle.readline(max_chars + 1)
        except (OSError, EOFError, zlib.error) as error:  # gzip: bad header, corrupt or truncated body
            raise FerHubError(f"{path}: cannot read as a CSV file ({error or type(error).__name__})") from None
        except UnicodeDecodeError as error:
            raise FerHubError(f"{path}: cannot read as a CSV file (not UTF-8 text: {error})") from None
        if not line:
            return
        number += 1
        if len(line) > max_chars:
            raise FerHubError(f"{path}, line {number}: longer than {max_chars:,} characters; not a CSV row")
        yield line


@contextlib.contextmanager
def open_text_lines(path: str | Path, max_chars: int = MAX_LINE_CHARS) -> Iterator[Iterator[str]]:
    """The lines of a UTF-8 text file (`.gz`: gzip-compressed), for `csv.reader`; each at most `max_chars`."""
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            handle = gzip.open(path, "rt", newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed by the `with` below)
        else:
            handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise FerHubError(f"{path}: cannot read as a CSV file ({error.strerror or error})") from None
    with handle:
        yield _lines(handle, path, max_chars)
