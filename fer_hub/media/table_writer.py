"""`FrameResult`s as a table, one row per face per image or frame, written as they come (CSV or JSON Lines)
and flushed after every frame, so an interrupted run leaves a valid file of what was done.

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
            "source": result.source,
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
    """Writes rows to a CSV or JSON Lines file ('-': stdout) as results come, one flush per result."""

    def __init__(self, path: str | Path, table_format: TableFormat):
        self.path = str(path)
        self.format = table_format
        if self.path == "-":
            self._file = sys.stdout
        else:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close())
            except OSError as error:
                raise FerHubError(f"{self.path}: cannot write ({error.strerror})") from None
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
        if self._file is not sys.stdout:
            self._file.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


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
