"""`fer-hub evaluate`: score a trained model, or an ensemble, on one split; optionally write the metrics JSON."""

from __future__ import annotations

import argparse

from .options import MODEL_FLAGS, MODEL_HELP, add_device, add_trust_remote_code, check_model_names

FLAGS = dict(MODEL_FLAGS)


def add_parser(commands) -> argparse.ArgumentParser:
    evaluate = commands.add_parser("evaluate", help="score a trained model on one split")
    evaluate.add_argument("--model", required=True, action="append", metavar="MODEL", help=MODEL_HELP)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    evaluate.add_argument("--output", help="metrics JSON path (a confusion-matrix PNG is written beside it)")
    evaluate.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    evaluate.add_argument(
        "--votes",
        metavar="PATH",
        help="FER+ votes file for the rows of the --data CSV: also score against the FER+ majority",
    )
    add_device(evaluate)
    add_trust_remote_code(evaluate)
    return evaluate


def run(args: argparse.Namespace) -> None:
    check_model_names(args.model)  # before torch is imported
    from pathlib import Path

    from ..evaluation.evaluate import check_evaluation_output, evaluate, format_report, write_evaluation

    if args.output:  # before the evaluation, not after it: writable, and not what the evaluation reads
        check_evaluation_output(args.output, args.data, votes=args.votes, models=args.model)
    metrics = evaluate(
        args.model,
        args.data,
        args.split,
        tta=args.tta,
        trust_remote_code=args.trust_remote_code,
        votes=args.votes,
        device=args.device,
    )
    print(format_report(metrics))
    if args.output:
        image = write_evaluation(metrics, Path(args.output))
        print(f"wrote {args.output} and {image}")
