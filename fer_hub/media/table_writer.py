"""`FrameResult`s as a table, one row per face per image or frame, written as they come (CSV or JSON Lines) to a
temporary file beside the table, flushed after every frame, and renamed to the table when all is written: a failure
or Ctrl-C leaves the table as it was before ('-', stdout, is written as it comes). File names that are not UTF-8
are written with those bytes escaped (`\xff`).

    fer_hub.write_csv(fer_hub.analyze_video("clip.mp4"), "clip.csv")
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from ..errors import FerHubError
from ..labels import LABELS
from ..output_paths import replaced_file, shown_path
from .video import FrameResult

COLUMNS = ("source", "frame", "time_s", "face_id", "x", "y", "w", "h", "label", *LABELS)
TableFormat = Literal["csv", "jsonl"]


def face_rows(result: FrameResult) -> Iterator[dict]:
    """One row per face (COLUMNS). frame and time_s are None for an image; times in seconds to the millisecond,
    scores to 4 decimals."""
    time_s = None if result.time_s is None else round(result.time_s, 3)
    for face in result.faces:
        x, y, w, h = face.box
        scores = {name: round(face.scores[name], 4) for name in LABELS}
        yield {
            "source": shown_path(result.source),
            "frame": result.frame,
            "time_s": time_s,
            "face_id": face.face_id,
            "x": x,
            "y": y,
            "w": w,
            "h": h,
            "label": face.label,
            **scores,
        }


class TableWriter:
    """Writes rows to a CSV or JSON Lines file ('-': stdout) as results come, one flush per result, into a
    temporary file that `close` renames to `path` (`discard`, or leaving the `with` block by an exception, removes
    it and leaves `path` as it was)."""

    def __init__(self, path: str | Path, table_format: TableFormat):
        self.path = str(path)
        self.format = table_format
        self._staging = None
        if self.path == "-":
            self._file = sys.stdout
        else:
            replaced = replaced_file(self.path)
            try:
                staging = replaced.__enter__()
                try:
                    self._file = open(staging, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in _finish)
                except OSError as error:
                    replaced.__exit__(type(error), error, None)  # the temporary file removed
                    raise
            except OSError as error:
                raise FerHubError(f"{self.path}: cannot write ({error.strerror})") from None
            self._staging = replaced
        self._csv = None
        if table_format == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=COLUMNS)
            self._csv.writeheader()
            self._file.flush()
        self.rows = 0

    def write(self, result: FrameResult) -> int:
        """Writes the rows of one image or frame; returns how many."""
        rows = list(face_rows(result))
        if self._csv is not None:
            self._csv.writerows(rows)
        else:
            self._file.write("".join(json.dumps(row) + "\n" for row in rows))
        self._file.flush()
        self.rows += len(rows)
        return len(rows)

    def close(self) -> None:
        """The table complete: the temporary file renamed to `path`."""
        self._finish(None)

    def discard(self) -> None:
        """The temporary file removed; `path` stays as it was (stdout: nothing to undo)."""
        self._finish(FerHubError("discarded"))

    def _finish(self, error: BaseException | None) -> None:
        if self._file is sys.stdout:
            self._file.flush()
            return
        if self._staging is None:
            return
        staging, self._staging = self._staging, None
        self._file.close()
        if error is None:
            staging.__exit__(None, None, None)
        else:
            staging.__exit__(type(error), error, None)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        self._finish(None if kind is None else error or kind())


def write_csv(results: Iterable[FrameResult], path: str | Path) -> int:
    """Writes every result's faces to a CSV file (COLUMNS) as they come; returns the number of rows."""
    return _write(results, path, "csv")


def write_jsonl(results: Iterable[FrameResult], path: str | Path) -> int:
    """Writes every result's faces to a JSON Lines file (one object per face, keys COLUMNS); returns the rows."""
    return _write(results, path, "jsonl")


def _write(results: Iterable[FrameResult], path: str | Path, table_format: TableFormat) -> int:
    with TableWriter(path, table_format) as writer:
        for result in results:
            writer.write(result)
    return writer.rows
