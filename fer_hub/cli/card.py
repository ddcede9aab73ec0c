"""`fer-hub card`: write the model card README.md into a trained model folder."""

from __future__ import annotations

import argparse

FLAGS = {"model_dir": "MODEL"}  # a positional argument


def add_parser(commands) -> argparse.ArgumentParser:
    card = commands.add_parser("card", help="write the model card README.md into a model folder")
    card.add_argument(
        "model_dir", metavar="MODEL", help="trained model folder or trained model name (see `fer-hub models`)"
    )
    card.add_argument(
        "--repo-id", metavar="OWNER/NAME", help="the repo id the usage snippets name (default: a placeholder)"
    )
    return card


def run(args: argparse.Namespace) -> None:
    from ..hub.model_card import write_model_card

    print(f"wrote {write_model_card(args.model_dir, repo_id=args.repo_id)}")
