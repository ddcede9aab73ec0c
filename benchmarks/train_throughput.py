"""Training images/s per model on this machine: the fer-hub Trainer pipeline (dataset, on-the-fly
augmentation and processing, class-weighted loss, Trainer bookkeeping) against a bare PyTorch loop
(AdamW on ready-made tensors) with the same model, batch size and thread count.

    python benchmarks/train_throughput.py [--models cnn rnn] [--steps 12] [--warmup 3] [--batch 32]

Runs alternate (Trainer, bare, Trainer, bare) per model so background load hits both alike.
Writes benchmarks/results/train_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from results_io import write_report
from transformers import TrainerCallback, TrainingArguments

from fer_hub import create_model, image_processor_for, list_models, load_fer2013
from fer_hub.augmentation import AugmentationConfig
from fer_hub.training import TRAINER_DEFAULTS, WeightedLossTrainer, class_weights, with_transform

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
FIXTURE = ROOT / "tests" / "fixtures" / "fer2013_tiny.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"


class StepClock(TrainerCallback):
    """Wall time from the end of the warmup steps to the end of the last step."""

    def __init__(self, warmup: int):
        self.warmup, self.started, self.finished = warmup, None, None

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.started = time.perf_counter()
        self.finished = time.perf_counter()


def trainer_images_per_second(name: str, train_split, steps: int, warmup: int, batch: int) -> float:
    model = create_model(name)
    split = train_split.select(range(min(len(train_split), (steps + 1) * batch)))
    weights = class_weights(split["label"])
    split = with_transform(split, image_processor_for(model), AugmentationConfig())
    clock = StepClock(warmup)
    with tempfile.TemporaryDirectory() as folder:
        settings = {**TRAINER_DEFAULTS, "eval_strategy": "no", "save_strategy": "no", "load_best_model_at_end": False,
                    "logging_strategy": "no", "disable_tqdm": True}
        args = TrainingArguments(output_dir=folder, max_steps=steps, per_device_train_batch_size=batch, use_cpu=True,
                                 **settings)
        WeightedLossTrainer(model=model, args=args, train_dataset=split, callbacks=[clock], class_weights=weights).train()
    return (steps - warmup) * batch / (clock.finished - clock.started)


def bare_images_per_second(name: str, steps: int, warmup: int, batch: int) -> float:
    model = create_model(name).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    pixel_values, labels = torch.randn(batch, 1, 48, 48), torch.randint(0, 7, (batch,))
    for step in range(steps):
        if step == warmup:
            started = time.perf_counter()
        loss = model(pixel_values=pixel_values, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    return (steps - warmup) * batch / (time.perf_counter() - started)


def markdown(report: dict) -> str:
    lines = [
        "# Training throughput: Trainer pipeline vs bare PyTorch loop",
        "",
        f"{report['machine']}; {report['threads']} torch threads; batch {report['batch']}; "
        f"{report['steps'] - report['warmup']} timed steps after {report['warmup']} warmup, median of {report['repeats']}.",
        "",
        "| model | params | Trainer img/s | bare loop img/s | pipeline overhead |",
        "|---|---|---|---|---|",
    ]
    for row in report["models"]:
        lines.append(f"| {row['model']} | {row['params'] / 1e6:.2f}M | {row['trainer_images_per_second']:.1f} | "
                     f"{row['bare_images_per_second']:.1f} | {row['overhead_percent']:+.1f}% |")
    return "\n".join(lines + ["", report["note"], ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list_models())
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=RESULTS / "train_throughput.json")
    args = parser.parse_args()

    train_split = load_fer2013(SHARED_CSV if SHARED_CSV.is_file() else FIXTURE)["train"]
    rows = []
    for name in args.models:
        trainer_runs, bare_runs = [], []
        for _ in range(args.repeats):
            trainer_runs.append(trainer_images_per_second(name, train_split, args.steps, args.warmup, args.batch))
            bare_runs.append(bare_images_per_second(name, args.steps, args.warmup, args.batch))
        trainer, bare = statistics.median(trainer_runs), statistics.median(bare_runs)
        rows.append({"model": name, "params": sum(p.numel() for p in create_model(name).parameters()),
                     "trainer_images_per_second": trainer, "bare_images_per_second": bare,
                     "overhead_percent": 100 * (bare / trainer - 1), "trainer_runs": trainer_runs, "bare_runs": bare_runs})
        print(f"{name}: Trainer {trainer:.1f} img/s, bare {bare:.1f} img/s, overhead {rows[-1]['overhead_percent']:+.1f}%")
    report = {"machine": f"{platform.machine()}, {torch.get_num_threads()}-thread torch {torch.__version__}",
              "threads": torch.get_num_threads(), "batch": args.batch, "steps": args.steps, "warmup": args.warmup,
              "repeats": args.repeats, "note": args.note, "models": rows}
    write_report(report, args.output, markdown)


if __name__ == "__main__":
    main()
