"""Average the weights of several trained models of one architecture into a run folder that `train/zoo_checkpoint.py`
puts in the zoo: the ends of one training's cosine cycles (warm restarts), averaged as stochastic weight averaging
does (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima"). Batch-norm statistics do not average: they are
measured again on training faces (no augmentation), then the result is scored on PublicTest like a training run.

How `vgg16.fer2013` was made: its second, third and fourth cycles' weights, each from the commit that held it.

    for cycle in 8625e67^ b67c2ba 6e8af1c; do
        mkdir -p /tmp/vgg16-$cycle && git archive $cycle checkpoints/vgg16.fer2013 | tar -x -C /tmp/vgg16-$cycle
    done
    python train/average_weights.py ~/fer-runs/vgg16-averaged /tmp/vgg16-{8625e67^,b67c2ba,6e8af1c}/checkpoints/vgg16.fer2013 \\
        --data ../shared/datasets/fer2013/fer2013-train-publictest.csv.gz \\
        --votes ../shared/datasets/ferplus/ferplus-votes-train-publictest.csv.gz

The run folder gets the averaged model (fp32), `metrics.json` (the `training` part names the members),
`confusion_matrix.png` and `command.txt`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel

BATCH_NORM_FACES = 8192  # training faces that the batch-norm statistics are measured on
BATCH_SIZE = 256


def average_weights(models: list[PreTrainedModel]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the models' floating-point weights and buffers (integer buffers, such as batch
    norm's batch count, from the first); every model must have the same architecture and config."""
    first = models[0]
    for model in models[1:]:
        if model.config.to_diff_dict() != first.config.to_diff_dict():
            raise SystemExit(f"{model.name_or_path}: not the same architecture and config as {first.name_or_path}")
    states = [model.state_dict() for model in models]
    return {
        key: torch.stack([state[key].float() for state in states]).mean(0).to(tensor.dtype)
        if tensor.is_floating_point()
        else tensor.clone()
        for key, tensor in states[0].items()
    }


@torch.no_grad()
def measure_batch_norm(model: PreTrainedModel, batches) -> None:
    """Set every batch-norm layer's running mean and variance to their averages over `batches` of pixel values
    (each layer in training mode with a cumulative average; dropout stays off)."""
    layers = [module for module in model.modules() if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)]
    if not layers:
        raise SystemExit(f"{model.config.model_type}: has no batch-norm layers; their average needs no measuring")
    model.eval()
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over all batches
        layer.train()
    for pixel_values in batches:
        model(pixel_values=pixel_values)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    model.eval()


def main() -> None:
    from fer_hub import load_checkpoint, save_checkpoint
    from fer_hub.data.fer2013 import dataset_split, load_fer2013
    from fer_hub.evaluation.evaluate import evaluate, save_confusion_matrix
    from fer_hub.models.registry import entry_for_model_type

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the run folder to write (must not exist)")
    parser.add_argument("members", nargs="+", help="two or more trained models (folders or names)")
    parser.add_argument("--data", required=True, help="the FER2013 source: training faces and PublicTest")
    parser.add_argument("--votes", help="FER+ votes for its rows: also score against the FER+ majority")
    parser.add_argument("--faces", type=int, default=BATCH_NORM_FACES, help="training faces for batch norm")
    args = parser.parse_args()
    if len(args.members) < 2:
        parser.error("give two or more members")
    if args.output.exists():
        parser.error(f"{args.output}: exists already")
    started = time.monotonic()
    models, processors = zip(*(load_checkpoint(member) for member in args.members))
    model = models[0]
    model.load_state_dict(average_weights(list(models)))
    faces = dataset_split(load_fer2013(args.data), "train", args.data)
    rows = np.random.default_rng(0).choice(len(faces), min(args.faces, len(faces)), replace=False)
    batches = (
        processors[0](batch["image"], return_tensors="pt")["pixel_values"]
        for batch in faces.select(rows).select_columns(["image"]).iter(batch_size=BATCH_SIZE)
    )
    measure_batch_norm(model, batches)
    save_checkpoint(model, processors[0], args.output)
    metrics = evaluate(str(args.output), args.data, "validation", votes=args.votes)
    del metrics["tta"]
    metrics["model"] = entry_for_model_type(model.config.model_type).name  # as a training run names it
    metrics["training"] = {
        "labels": "fer2013",
        "averaged_from": args.members,
        "batch_norm_faces": len(rows),
        "averaging_minutes": round((time.monotonic() - started) / 60, 2),  # not training time
        "device": "cpu",
    }
    (args.output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    save_confusion_matrix(
        metrics["confusion_matrix"], args.output / "confusion_matrix.png", title="averaged weights on validation"
    )
    (args.output / "command.txt").write_text(shlex.join(["python", *sys.argv]) + "\n")
    print(f"wrote {args.output}: PublicTest accuracy {metrics['accuracy']:.4f}")


if __name__ == "__main__":
    main()
