"""What the zoo publishes, as files of a source checkout: `model_cards/NAME.md`, the card `fer-hub push` uploads for
each trained model of the zoo (`fer-hub card NAME`), and `spaces/fer-demo/`, the Space's own files as
`fer-hub push-space` uploads them for the zoo's Space (`push-space --repo-id fer-hub/fer-demo --model fer-hub/NAME`
for every other zoo model; the fer_hub package goes beside them). `train/hub_files.py` writes them;
tests/test_published_files.py checks they are what the commands generate today."""

from __future__ import annotations

from pathlib import Path

from ..models.pretrained import DEFAULT_MODEL, PRETRAINED
from .model_card import DEMO_SPACE, render_model_card
from .push import space_files

MODEL_CARDS = Path("model_cards")
SPACE = Path("spaces") / DEMO_SPACE.split("/")[-1]


def zoo_space_models() -> list[str]:
    """The `--model` ids of the zoo's Space: every published zoo model but the embedded default."""
    return [entry.hub_id for name, entry in PRETRAINED.items() if name != DEFAULT_MODEL]


def published_files() -> tuple[dict[Path, bytes], list[str]]:
    """(path relative to the repository root -> bytes, the zoo models left out because their weights are not on this
    machine)."""
    files: dict[Path, bytes] = {}
    missing = []
    for name, entry in PRETRAINED.items():
        if entry.local_folder is None:
            missing.append(name)
            continue
        files[MODEL_CARDS / f"{name}.md"] = str(render_model_card(entry.local_folder, entry.hub_id)).encode()
    for path, data in space_files(zoo_space_models()).items():
        files[SPACE / path] = data
    return files, missing


def stale_files(root: Path) -> list[str]:
    """The published files under `root` that differ from the generated ones, are missing, or are left over."""
    files, missing = published_files()
    stale = [
        str(path) for path, data in files.items() if not (root / path).is_file() or (root / path).read_bytes() != data
    ]
    present = [
        path.relative_to(root)
        for folder in (MODEL_CARDS, SPACE)
        for path in (root / folder).rglob("*")
        if path.is_file()
    ]
    skipped = {MODEL_CARDS / f"{name}.md" for name in missing}
    return stale + [str(path) for path in present if path not in files and path not in skipped]
