"""`fer-hub models`: the trained models, by name, with their scores and where their weights are."""

from __future__ import annotations

import argparse

FLAGS: dict[str, str] = {}


def add_parser(commands) -> argparse.ArgumentParser:
    return commands.add_parser(
        "models", help="list the trained models (names for --model, scores, where the weights are)"
    )


def run(args: argparse.Namespace) -> None:
    from ..models.pretrained import pretrained_table

    print(pretrained_table())
