"""`fer-hub predict-data`: predict every face of a data split into a CSV."""

from __future__ import annotations

import argparse

from .options import MODEL_FLAGS, MODEL_HELP, add_trust_remote_code, check_model_names

FLAGS = dict(MODEL_FLAGS)


def add_parser(commands) -> argparse.ArgumentParser:
    predict_data = commands.add_parser("predict-data", help="predict every face of a data split into a CSV")
    predict_data.add_argument(
        "--model", action="append", metavar="MODEL", help=f"{MODEL_HELP} (default: the embedded model)"
    )
    predict_data.add_argument(
        "--data",
        required=True,
        help="Kaggle CSV(.gz) (also label-less: `pixels` only), image-folder tree or Hub dataset id",
    )
    predict_data.add_argument(
        "--split",
        default="test",
        choices=["train", "validation", "test"],
        help="default: test (a label-less CSV is all test)",
    )
    predict_data.add_argument("--output", required=True, help="predictions CSV: row,label,angry,...,neutral")
    predict_data.add_argument("--tta", action="store_true", help="average with the horizontally flipped faces")
    add_trust_remote_code(predict_data)
    return predict_data


def run(args: argparse.Namespace) -> None:
    check_model_names(args.model)
    from ..evaluation.predictions import predict_data

    output = predict_data(
        args.model, args.data, args.split, args.output, tta=args.tta, trust_remote_code=args.trust_remote_code
    )
    print(f"wrote {output}")
