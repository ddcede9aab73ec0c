"""`fer-hub train`: train a zoo model with its recipe; the command line goes into the folder's command.txt."""

from __future__ import annotations

import argparse

from ..models.registry import list_models
from .options import check_model_names

FLAGS = {"model_name": "--model", "recipe_path": "--recipe", "time_budget_minutes": "--time-budget"}


def add_parser(commands) -> argparse.ArgumentParser:
    train = commands.add_parser("train", help="train a zoo model with its recipe")
    train.add_argument(
        "--model",
        required=True,
        help=f"architecture ({', '.join(list_models())}: its own recipe) or a trained model's name "
        "(sepnet.ferplus: its architecture and recipe; see `fer-hub models`)",
    )
    train.add_argument("--data", required=True, help="Kaggle CSV(.gz), image-folder tree or Hub dataset id")
    train.add_argument("--output-dir", required=True)
    train.add_argument("--recipe", help="recipe YAML (default: the model's own, fer_hub/recipes/MODEL.yaml)")
    train.add_argument("--max-steps", type=int)
    train.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop cleanly after this wall-clock time")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an OUTPUT_DIR that holds another run (removes its checkpoints and training log)",
    )
    train.add_argument(
        "--init-from",
        metavar="MODEL",
        help="a trained model's name or model folder of the same architecture, or an ImageNet checkpoint (Hub id or "
        "folder) for resnet101 or vit",
    )
    train.add_argument(
        "--labels",
        choices=["fer2013", "ferplus"],
        help="train on FER2013's labels or on the FER+ vote distributions (default: the recipe's, else fer2013)",
    )
    train.add_argument(
        "--votes",
        metavar="PATH",
        help="FER+ votes file for the rows of the --data CSV: needed by --labels ferplus; metrics then "
        "cover both label sets",
    )
    return train


def run(args: argparse.Namespace) -> None:
    import shlex
    from pathlib import Path

    from ..training.recipes import training_target
    from ..training.run_folder import COMMAND_LOG

    training_target(args.model)  # an unknown name: one error line before torch is imported
    if args.init_from:
        check_model_names(args.init_from)
    from ..training.train import train

    metrics = train(
        args.model,
        args.data,
        args.output_dir,
        recipe_path=args.recipe,
        max_steps=args.max_steps,
        time_budget_minutes=args.time_budget,
        resume=args.resume,
        init_from=args.init_from,
        labels=args.labels,
        votes=args.votes,
        overwrite=args.overwrite,
    )
    if not metrics:  # not the main process of a distributed run
        return
    with (Path(args.output_dir) / COMMAND_LOG).open("a") as log:  # a resume adds its own line
        log.write(shlex.join(["fer-hub", *args.argv]) + "\n")
    line = (
        f"saved {args.output_dir}: validation FER2013-label accuracy {metrics['accuracy']:.4f}, "
        f"macro-F1 {metrics['f1_macro']:.4f}"
    )
    if "ferplus_majority" in metrics:
        ferplus = metrics["ferplus_majority"]
        line += f"; FER+ majority accuracy {ferplus['accuracy']:.4f}, macro-F1 {ferplus['f1_macro']:.4f}"
    print(line)
