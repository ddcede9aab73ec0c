"""A training folder belongs to one run.

A new run writes a run id into the folder (RUN_FILE) and into every checkpoint it saves (its trainer_state.json,
through the `RunTag` callback). A new run refuses a folder that holds another run (its checkpoints, training log
or run id) unless told to `overwrite` it; `resume` continues only from the newest complete checkpoint of the run
that wrote the folder, and refuses while checkpoints of other runs lie beside it (Trainer's rotation would delete
them). Folders written before run ids existed resume as before, from their newest complete checkpoint.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from ..errors import FerHubError, ParameterError
from ..output_paths import check_output_dir

RUN_FILE = ".fer-hub-run.json"  # hidden: bookkeeping, never pushed to the Hub
CHECKPOINT_DIR = "checkpoints"
TRAINING_LOG = "training_log.txt"
COMMAND_LOG = "command.txt"  # appended by each call of a run (a resume adds a line)
RUN_STATE = (RUN_FILE, CHECKPOINT_DIR, TRAINING_LOG, COMMAND_LOG)  # what --overwrite removes; the rest is rewritten
CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE = "trainer_state.json"


class RunTag(TrainerCallback, ExportableState):
    """Stores the run id in each checkpoint's trainer_state.json (saved last, so a checkpoint cut short by a
    kill carries none)."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    def state(self) -> dict:
        return {"args": {"run_id": self.run_id}, "attributes": {}}


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _checkpoints(folder: Path) -> list[Path]:
    """checkpoint-N folders under folder/checkpoints, oldest step first."""
    root = folder / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [path for path in root.iterdir() if CHECKPOINT_NAME.match(path.name) and path.is_dir()]
    return sorted(found, key=lambda path: int(CHECKPOINT_NAME.match(path.name).group(1)))


def checkpoint_run_id(checkpoint: Path) -> str | None:
    """The run id a checkpoint was saved by (None: an older fer-hub's checkpoint, without one)."""
    state = _read_json(checkpoint / TRAINER_STATE) or {}
    tag = (state.get("stateful_callbacks") or {}).get(RunTag.__name__)
    if isinstance(tag, list):
        tag = tag[-1] if tag else None
    run_id = ((tag or {}).get("args") or {}).get("run_id") if isinstance(tag, dict) else None
    return run_id if isinstance(run_id, str) else None


def folder_run_id(folder: Path) -> str | None:
    """The id of the run that wrote `folder` (None: no run, or an older fer-hub's run)."""
    run_id = (_read_json(folder / RUN_FILE) or {}).get("run_id")
    return run_id if isinstance(run_id, str) else None


def _names(paths: list[Path]) -> str:
    return ", ".join(path.name for path in paths)


@dataclass
class RunFolder:
    """The outcome of checking an output folder for one `fer-hub train` call."""

    path: Path
    run_id: str | None  # None only when resuming a folder written before run ids existed
    resume_from: str | None  # the checkpoint to resume from
    overwrite: bool = False

    def claim(self, is_main_process: bool) -> None:
        """Make the folder this run's: with `overwrite`, remove the previous run's state; a new run writes its id.
        Call once every process has checked the folder (after loading the data); only the main process writes."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not is_main_process or self.resume_from is not None:
            return
        if self.overwrite:
            for name in RUN_STATE:
                target = self.path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
        (self.path / RUN_FILE).write_text(json.dumps({"run_id": self.run_id}) + "\n")

    def callbacks(self) -> list[TrainerCallback]:
        """The callback that tags this run's checkpoints (none for a folder of an older fer-hub)."""
        return [RunTag(self.run_id)] if self.run_id else []


def check_run_folder(output_dir: str | Path, resume: bool = False, overwrite: bool = False) -> RunFolder:
    """Check `output_dir` for a new run or for `resume`, before any data is loaded; writes nothing."""
    if resume and overwrite:
        raise ParameterError(
            "overwrite", "`resume` and `overwrite` exclude each other: continue the folder's run, or start over"
        )
    folder = check_output_dir(output_dir)
    checkpoints = _checkpoints(folder)
    run_id = folder_run_id(folder)
    if not resume:
        held = [path for path in (folder / RUN_FILE, folder / TRAINING_LOG) if path.exists()]
        if (checkpoints or held) and not overwrite:
            what = f"its checkpoints {_names(checkpoints)}" if checkpoints else f"its {_names(held)}"
            raise ParameterError(
                "output_dir",
                f"{folder} holds another training run ({what}); continue it with `resume`, start over there with "
                "`overwrite` (removes its checkpoints and training log), or choose another folder",
            )
        return RunFolder(folder, uuid.uuid4().hex, None, overwrite)
    complete = [path for path in checkpoints if (path / TRAINER_STATE).is_file()]  # the rest were cut short
    mine = [path for path in complete if checkpoint_run_id(path) == run_id]
    others = [path for path in complete if path not in mine]
    if others:
        raise FerHubError(
            f"{folder}: {CHECKPOINT_DIR}/ also holds checkpoints of another run ({_names(others)}); move them out "
            "before resuming (resuming would rotate them away)"
        )
    if not mine:
        raise FerHubError(f"{folder}: no checkpoint to resume from in {folder / CHECKPOINT_DIR}")
    return RunFolder(folder, run_id, str(mine[-1]))
