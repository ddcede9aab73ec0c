"""Put a finished training run into the zoo: its best weights as fp16 safetensors, cut into files of at most 40 MB,
in `checkpoints/NAME/` with the run's records (metrics, log, command, recipe, confusion matrix) and a model card,
and the same records in `train/results/RUN/` (RUN: the architecture's name, or --results).

    python train/zoo_checkpoint.py ~/fer-runs/resnet101 resnet101.fer2013

git takes no file over 45 MB; `from_pretrained` loads the folder back in fp32. The held-out predictions are made
from the committed folder afterwards (`fer-hub predict-data`), so they are the predictions of those weights.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_SHARD = "40MB"
MAX_FILE_BYTES = 45 * 1000 * 1000
RECORDS = ("metrics.json", "training_log.txt", "command.txt", "recipe.yaml", "confusion_matrix.png")


def put_in_zoo(run: Path, name: str, results: str, root: Path = ROOT) -> Path:
    """Write checkpoints/NAME from the run folder and copy its records to train/results/RESULTS; returns the folder."""
    from fer_hub import load_checkpoint, save_checkpoint
    from fer_hub.hub.model_card import write_model_card

    folder = root / "checkpoints" / name
    if folder.exists():
        raise SystemExit(f"{folder}: exists already; remove it first to replace it")
    model, processor = load_checkpoint(str(run))
    save_checkpoint(model, processor, folder, half_precision=True, max_shard_size=MAX_SHARD)
    records = root / "train" / "results" / results
    records.mkdir(parents=True, exist_ok=True)
    for record in RECORDS:
        if (run / record).is_file():
            shutil.copyfile(run / record, folder / record)
            shutil.copyfile(run / record, records / record)
    write_model_card(folder)
    too_big = [path.name for path in folder.iterdir() if path.stat().st_size > MAX_FILE_BYTES]
    if too_big:
        raise SystemExit(f"{folder}: files over 45 MB: {', '.join(too_big)}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the training run's output folder")
    parser.add_argument("name", help="the trained model's name, architecture.tag (resnet101.fer2013)")
    parser.add_argument("--results", help="its records' folder under train/results/ (default: the architecture)")
    args = parser.parse_args()
    folder = put_in_zoo(args.run, args.name, args.results or args.name.split(".")[0])
    sizes = ", ".join(f"{path.name} {path.stat().st_size / 1e6:.1f} MB" for path in sorted(folder.iterdir()))
    print(f"wrote {folder.relative_to(ROOT)}: {sizes}")


if __name__ == "__main__":
    main()
