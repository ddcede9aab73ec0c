"""fer-hub: facial-expression recognition models for transformers, trained on FER2013.

`import fer_hub` registers fer-hub's architectures with transformers' Auto classes, so
`AutoModelForImageClassification.from_pretrained(folder)` loads a fer-hub folder with the installed classes. The
public names below are imported on first use. The `fer-hub` command leaves the registration to the subcommand
that needs it (every path that creates or loads a model imports `fer_hub.models.factory`, which registers), so
`fer-hub --help` and argument errors answer without importing torch.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"  # the one place the version is written; pyproject.toml reads it

if TYPE_CHECKING:
    from .data.fer2013 import load_fer2013
    from .labels import LABELS
    from .media.table_writer import write_csv, write_jsonl
    from .media.video import FrameResult, TrackedFace, analyze_video
    from .models.factory import create_model, image_processor_for, load_checkpoint, save_checkpoint
    from .models.image_processing_fer import FerImageProcessor
    from .models.pretrained import list_pretrained
    from .models.registry import list_models

_PUBLIC_NAMES = {  # name -> the module defining it
    "LABELS": "labels",
    "FerImageProcessor": "models.image_processing_fer",
    "create_model": "models.factory",
    "image_processor_for": "models.factory",
    "list_models": "models.registry",
    "list_pretrained": "models.pretrained",
    "load_fer2013": "data.fer2013",
    "save_checkpoint": "models.factory",
    "load_checkpoint": "models.factory",
    "analyze_video": "media.video",
    "FrameResult": "media.video",
    "TrackedFace": "media.video",
    "write_csv": "media.table_writer",
    "write_jsonl": "media.table_writer",
}
__all__ = list(_PUBLIC_NAMES)


def __getattr__(name: str):
    if name not in _PUBLIC_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC_NAMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC_NAMES})


def _started_as_the_cli() -> bool:
    """True while the `fer-hub` console script or `python -m fer_hub` imports the package (Python sets argv[0]
    to "-m" while it locates the module of `python -m`)."""
    program = sys.argv[0] if getattr(sys, "argv", None) else ""
    return program == "-m" or Path(program).stem == "fer-hub"


if not _started_as_the_cli():
    from .models import factory  # importing it registers the architectures with the Auto classes
