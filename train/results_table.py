"""The README's results table, generated from the committed metrics files (never typed).

One row per `train/results/<name>/metrics.json` (a training run's, or an ensemble's from
`fer-hub evaluate --model A --model B --model C --output ...`): the trained-model name it loads as (`fer-hub models`; "-" when its
weights are not in the zoo), parameters (the model as its recipe builds it; an ensemble: its members' sum), wall time, device and epochs
of the run, PublicTest accuracy and macro-F1, the accuracy with flipped-image averaging where a `metrics-tta.json`
(`fer-hub evaluate --tta`) lies beside the metrics file, the held-out PrivateTest accuracy from
`../shared/heldout/privatetest-scores.md` where the committed predictions are the scored ones, the FER+ majority
accuracy when a metrics file has it, and the study's test-accuracy floor. The table goes between the markers

    <!-- results-table:start -->
    <!-- results-table:end -->

of every Markdown file that has them (README.md, docs/*.md).

The same run records give `fer_hub/models/pretrained_scores.json`, the scores `fer-hub models` and
`fer_hub.list_pretrained()` report: PublicTest accuracy on both label sets, and the held-out PrivateTest accuracy from
`../shared/heldout/privatetest-scores.md` where the committed predictions file is the one that was scored.

    python train/results_table.py            # rewrite the marked blocks and the scores file
    python train/results_table.py --check    # exit 1 if a marked block or the scores file is not the generated one
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- results-table:start -->", "<!-- results-table:end -->"
STUDY_FLOOR = {
    "vgg16": 0.680,
    "resnet101": 0.550,
    "cnn": 0.583,
    "rnn": 0.452,
    "vit": 0.562,
}  # the study's test accuracies


HELDOUT_SCORES = ROOT.parent / "shared" / "heldout" / "privatetest-scores.md"
SCORES_FILE = ROOT / "fer_hub" / "models" / "pretrained_scores.json"


def metrics_files(root: Path = ROOT) -> dict[str, Path]:
    """run name -> metrics.json: every training run's or ensemble's under train/results/."""
    return {path.parent.name: path for path in sorted((root / "train/results").glob("*/metrics.json"))}


def loads_as() -> dict[str, str]:
    """run name (its train/results/ folder) -> the trained-model name that loads its weights."""
    from fer_hub.models.pretrained import PRETRAINED

    return {entry.results: entry.name for entry in PRETRAINED.values()}


def parameters(architecture: str, run_recipe: Path | None = None) -> int:
    """Parameters of the zoo `architecture` as the run's saved `recipe.yaml` built it (else as its own recipe
    builds it), counted on the meta device: no memory, no time."""
    import torch
    import yaml

    from fer_hub import create_model
    from fer_hub.training.recipes import default_recipe_path, load_recipe

    if run_recipe is not None and run_recipe.is_file():
        config = yaml.safe_load(run_recipe.read_text()).get("config") or {}
    else:
        config = load_recipe(default_recipe_path(architecture), on_cpu=True).config
    with torch.device("meta"):
        model = create_model(architecture, **config)
    return sum(parameter.numel() for parameter in model.parameters())


def zoo_name(reference: str) -> str:
    """The architecture a member reference names: `cnn`, `cnn.fer2013`, `checkpoints/cnn.fer2013`, `runs/cnn` ->
    `cnn`."""
    return Path(reference).name.split(".")[0]


def row(
    name: str, metrics: dict, recipe: Path, tta_metrics: dict | None = None, heldout_accuracy: float | None = None
) -> dict:
    members = [zoo_name(member) for member in metrics.get("ensemble", [])]
    training = metrics.get("training", {})
    ferplus = metrics.get("ferplus_majority")
    return {
        "model": f"{name} ({' + '.join(members)})" if members else name,
        "name": loads_as().get(name, "-"),
        "labels": "FER+ votes" if training.get("labels") == "ferplus" else ("-" if members else "FER2013"),
        "parameters": sum(map(parameters, members)) if members else parameters(metrics.get("model", name), recipe),
        "minutes": training.get("wall_minutes_this_run"),
        "device": training.get("device"),
        "epochs": training.get("epochs"),
        "accuracy": metrics["accuracy"],
        "f1_macro": metrics["f1_macro"],
        "tta_accuracy": tta_metrics["accuracy"] if tta_metrics else None,
        "heldout_accuracy": heldout_accuracy,
        "ferplus_accuracy": ferplus["accuracy"] if ferplus else None,
        "ferplus_f1_macro": ferplus["f1_macro"] if ferplus else None,
        "floor": STUDY_FLOOR.get(name),
    }


def _number(value: float | None, format_spec: str) -> str:
    return "-" if value is None else format(value, format_spec)


def _training_time(minutes: float | None, device: str | None) -> str:
    """`29 min, CPU` or `7 min, NVIDIA H200`: a run's wall time and where it ran (metrics.json's `device`)."""
    if minutes is None:
        return "-"
    where = {None: "", "cpu": ", CPU"}.get(device, f", {device}")
    return f"{minutes:.0f} min{where}"


def _validation_metrics(path: Path, tta: bool) -> dict:
    """A metrics file that scores PublicTest, with (`tta`) or without flipped-image averaging."""
    metrics = json.loads(path.read_text())
    if metrics.get("split") != "validation":
        raise SystemExit(f"{path}: scores the '{metrics.get('split')}' split; the table shows PublicTest (validation)")
    if bool(metrics.get("tta")) != tta:
        raise SystemExit(f"{path}: {'lacks' if tta else 'has'} flipped-image averaging (tta)")
    return metrics


def results_table(root: Path = ROOT, heldout: Path = HELDOUT_SCORES) -> str:
    """The Markdown table of every metrics file, study models in the study's order first, with the held-out
    PrivateTest accuracy of each run whose committed predictions are the ones that were scored."""
    runs, recipes, tta_runs = {}, {}, {}
    for name, path in metrics_files(root).items():
        recipes[name] = path.parent / "recipe.yaml"
        runs[name] = _validation_metrics(path, tta=False)
        tta_path = path.parent / "metrics-tta.json"
        tta_runs[name] = _validation_metrics(tta_path, tta=True) if tta_path.is_file() else None
    order = sorted(
        runs, key=lambda name: (list(STUDY_FLOOR).index(name) if name in STUDY_FLOOR else len(STUDY_FLOOR), name)
    )
    held_out = {run: accuracies[0] for run, accuracies in scored_runs(runs, root, heldout).items()}
    rows = [row(name, runs[name], recipes[name], tta_runs[name], held_out.get(name)) for name in order]
    with_ferplus = any(entry["ferplus_accuracy"] is not None for entry in rows)
    header = [
        "model",
        "loads as",
        "trained on",
        "parameters",
        "training time",
        "epochs",
        "PublicTest accuracy",
        "PublicTest macro-F1",
        "flip TTA accuracy",
        "PrivateTest accuracy (held out)",
    ]
    header += ["FER+ majority accuracy", "FER+ majority macro-F1"] if with_ferplus else []
    header += ["study floor (test accuracy)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in rows:
        cells = [
            entry["model"],
            f"`{entry['name']}`" if entry["name"] != "-" else "-",
            entry["labels"],
            f"{entry['parameters'] / 1e6:.2f}M",
            _training_time(entry["minutes"], entry["device"]),
            _number(entry["epochs"], ".1f"),
            f"{entry['accuracy']:.4f}",
            f"{entry['f1_macro']:.4f}",
            _number(entry["tta_accuracy"], ".4f"),
            _number(entry["heldout_accuracy"], ".4f"),
        ]
        cells += (
            [_number(entry["ferplus_accuracy"], ".4f"), _number(entry["ferplus_f1_macro"], ".4f")]
            if with_ferplus
            else []
        )
        cells += [_number(entry["floor"], ".3f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def heldout_scores(path: Path = HELDOUT_SCORES) -> tuple[str, dict[str, tuple[float, float]]]:
    """The commit whose predictions files were scored, and run name -> PrivateTest accuracy against FER2013's
    labels and against the FER+ majority."""
    text = path.read_text()
    commit = re.search(r"as committed at main `([0-9a-f]{7,40})`", text)
    if commit is None:
        raise SystemExit(f"{path}: names no scored commit ('as committed at main `...`')")
    scores = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and all(re.fullmatch(r"0\.\d+", cell) for cell in cells[1:3]):
            scores[cells[0].split()[0].strip("`")] = (float(cells[1]), float(cells[2]))
    return commit.group(1), scores


def scored_predictions_unchanged(run: str, commit: str, root: Path = ROOT) -> bool:
    """Whether the run's committed predictions file is byte for byte the one the held-out scores are of."""
    path = f"train/results/{run}/privatetest-predictions.csv"
    scored = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True)
    if scored.returncode != 0:
        raise SystemExit(f"git show {commit}:{path}: {scored.stderr.decode().strip()} (needs the repository's history)")
    return (root / path).is_file() and (root / path).read_bytes() == scored.stdout


def scored_runs(runs, root: Path = ROOT, heldout: Path = HELDOUT_SCORES) -> dict[str, tuple[float, float]]:
    """Of `runs`, those whose committed predictions are the scored ones -> their held-out PrivateTest accuracy
    against FER2013's labels and against the FER+ majority."""
    commit, private = heldout_scores(heldout)
    return {run: private[run] for run in runs if run in private and scored_predictions_unchanged(run, commit, root)}


def pretrained_scores(root: Path = ROOT, heldout: Path = HELDOUT_SCORES) -> dict:
    """Trained-model name -> its PublicTest accuracies and, where its predictions were scored, held-out accuracy."""
    names = loads_as()
    held_out = scored_runs(names, root, heldout)
    scores = {}
    for run, name in names.items():
        metrics = _validation_metrics(root / "train/results" / run / "metrics.json", tta=False)
        entry = {"publictest_accuracy": round(metrics["accuracy"], 4)}
        if metrics.get("ferplus_majority"):
            entry["publictest_ferplus_accuracy"] = round(metrics["ferplus_majority"]["accuracy"], 4)
        if run in held_out:
            entry["privatetest_accuracy"], entry["privatetest_ferplus_accuracy"] = held_out[run]
        scores[name] = entry
    return scores


def scores_text(scores: dict) -> str:
    return json.dumps(scores, indent=2, sort_keys=True) + "\n"


def marked_files(root: Path = ROOT) -> list[Path]:
    """README.md and docs/**/*.md that hold the markers."""
    candidates = [root / "README.md", *sorted((root / "docs").glob("**/*.md"))]
    return [path for path in candidates if path.is_file() and START in path.read_text()]


def with_table(text: str, table: str) -> str:
    block = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    return block.sub(lambda _: f"{START}\n{table}\n{END}", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every marked block is up to date")
    args = parser.parse_args()
    files = marked_files()
    if not files:
        raise SystemExit(f"no Markdown file has the markers {START} ... {END}")
    table = results_table()
    stale = [path for path in files if with_table(path.read_text(), table) != path.read_text()]
    scores = scores_text(pretrained_scores())
    scores_stale = not SCORES_FILE.is_file() or SCORES_FILE.read_text() != scores
    if args.check:
        for path in stale + ([SCORES_FILE] if scores_stale else []):
            print(f"{path.relative_to(ROOT)}: out of date; run python train/results_table.py")
        sys.exit(1 if stale or scores_stale else 0)
    for path in stale:
        path.write_text(with_table(path.read_text(), table))
        print(f"wrote the results table into {path.relative_to(ROOT)}")
    if scores_stale:
        SCORES_FILE.write_text(scores)
        print(f"wrote {SCORES_FILE.relative_to(ROOT)}")
    print(table)


if __name__ == "__main__":
    main()
