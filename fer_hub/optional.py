"""The optional dependencies. The core install (`pip install fer-hub`) runs `from_pretrained`, training, evaluation,
Hub publishing and `fer-hub predict` on photos; the extras add the rest: `fer-hub[demo]` the Gradio demo,
`fer-hub[video]` videos (OpenCV) and their timeline plots (matplotlib), `fer-hub[onnx]` ONNX export, `fer-hub[all]`
all three. A command that needs a package of an extra that is not installed fails with one line naming the extra."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import FerHubError

DISTRIBUTIONS = {"cv2": "opencv-python-headless"}  # import name -> what pip installs, where they differ


def require(module: str, extra: str, needed_by: str) -> ModuleType:
    """`module`, imported. When it is not installed, a FerHubError such as "the demo needs gradio: pip install
    'fer-hub[demo]'" (`needed_by` is what needs it, `extra` the extra that installs it). A package that is
    installed but misses one of its own dependencies raises as it is: that is a broken install, not a missing extra."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] != module.split(".")[0]:
            raise
        raise _missing(module, extra, needed_by) from None


def require_installed(module: str, extra: str, needed_by: str) -> None:
    """The same FerHubError as `require` when the top-level `module` is not installed, without importing it (a
    check that costs nothing before a slow import)."""
    if importlib.util.find_spec(module) is None:
        raise _missing(module, extra, needed_by)


def _missing(module: str, extra: str, needed_by: str) -> FerHubError:
    top_level = module.split(".")[0]
    package = DISTRIBUTIONS.get(top_level, top_level)
    return FerHubError(f"{needed_by} needs {package}: pip install 'fer-hub[{extra}]'")
