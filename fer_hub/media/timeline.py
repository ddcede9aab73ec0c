"""A video's timeline: each face id's 7 scores over time, gathered frame by frame in bounded memory and
plotted as a PNG (one panel per face, the faces seen longest first)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..labels import LABELS
from ..optional import require
from ..output_paths import replaced_file, shown_path
from .annotation import EXPRESSION_COLORS
from .video import FrameResult

MAX_POINTS = 2000  # per face; beyond it, neighbouring points are averaged in pairs
MAX_PANELS = 6  # faces plotted (those seen in the most frames)


class _FaceSeries:
    """One face's points (time, 7 scores), each the mean of `weights` frames, and how often each class won."""

    def __init__(self):
        self.times: list[float] = []
        self.scores: list[np.ndarray] = []
        self.weights: list[int] = []
        self.label_counts = np.zeros(len(LABELS), dtype=np.int64)

    def add(self, time_s: float, scores: np.ndarray) -> None:
        self.times.append(time_s)
        self.scores.append(scores)
        self.weights.append(1)
        self.label_counts[scores.argmax()] += 1
        if len(self.times) >= MAX_POINTS:
            self._halve()

    def _halve(self) -> None:
        times, scores, weights = [], [], []
        for start in range(0, len(self.times), 2):
            w = self.weights[start : start + 2]
            total = sum(w)
            times.append(sum(t * n for t, n in zip(self.times[start : start + 2], w)) / total)
            scores.append(sum(s * n for s, n in zip(self.scores[start : start + 2], w)) / total)
            weights.append(total)
        self.times, self.scores, self.weights = times, scores, weights


class Timeline:
    """Collects the `FrameResult`s of one video (`add`), then draws them (`save`)."""

    def __init__(self, title: str = ""):
        self.title = title
        self.faces: dict[int, _FaceSeries] = {}
        self.end_s = 0.0

    def add(self, result: FrameResult) -> None:
        self.end_s = max(self.end_s, result.time_s or 0.0)
        for face in result.faces:
            series = self.faces.setdefault(face.face_id, _FaceSeries())
            series.add(result.time_s or 0.0, np.array([face.scores[name] for name in LABELS], dtype=np.float32))

    def save(self, path: str | Path) -> Path:
        """A PNG: per face (at most MAX_PANELS, seen longest first) its 7 scores over time (matplotlib, of the
        `video` extra: a FerHubError naming it when it is not installed), written to a temporary file renamed to
        `path` when complete."""
        matplotlib = require("matplotlib", "video", "the video timeline plot")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        shown = sorted(self.faces, key=lambda face_id: (-self.faces[face_id].label_counts.sum(), face_id))[:MAX_PANELS]
        figure, axes = plt.subplots(
            max(1, len(shown)), 1, figsize=(9, 1.2 + 1.9 * max(1, len(shown))), sharex=True, squeeze=False
        )
        for axis, face_id in zip(axes[:, 0], shown):
            series = self.faces[face_id]
            scores = np.stack(series.scores)
            for column, name in enumerate(LABELS):
                axis.plot(series.times, scores[:, column], color=EXPRESSION_COLORS[name], linewidth=1.2, label=name)
            top = LABELS[series.label_counts.argmax()]
            axis.set_title(f"face {face_id}: {series.label_counts.sum()} frames, mostly {top}", fontsize=10, loc="left")
            axis.set_ylim(-0.03, 1.03)  # lines at 0 and 1 stay visible
            axis.set_ylabel("score")
            axis.grid(alpha=0.3)
        if not shown:
            axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center", transform=axes[0, 0].transAxes)
            axes[0, 0].set_yticks([])
        axes[-1, 0].set_xlabel("time (s)")
        axes[-1, 0].set_xlim(0, max(self.end_s, 1e-3))
        if shown:
            axes[0, 0].legend(ncol=7, fontsize=8, loc="lower left", bbox_to_anchor=(0, 1.18), frameon=False)
        hidden = len(self.faces) - len(shown)
        suptitle = shown_path(self.title) + (f" ({hidden} more faces seen briefly, not shown)" if hidden > 0 else "")
        figure.suptitle(suptitle, fontsize=11)
        figure.tight_layout()
        path = Path(path)
        try:
            with replaced_file(path) as staging:  # a failure leaves what was there
                figure.savefig(staging, dpi=100)
        finally:
            plt.close(figure)
        return path
