"""`fer-hub push-space`: publish the Gradio demo as a Hub Space."""

from __future__ import annotations

import argparse

from .options import MODEL_FLAGS

FLAGS = dict(MODEL_FLAGS)


def add_parser(commands) -> argparse.ArgumentParser:
    space = commands.add_parser("push-space", help="publish the Gradio demo as a Hub Space")
    space.add_argument("--repo-id", required=True, metavar="OWNER/NAME")
    space.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="MODEL",
        help="a trained model's name or Hub model id the Space offers besides the embedded model, repeated for "
        "several (sets its FER_HUB_MODELS variable; left as it is when omitted)",
    )
    space.add_argument("--private", action="store_true")
    return space


def run(args: argparse.Namespace) -> None:
    from ..hub.push import push_space
    from ..models.pretrained import pretrained_entry

    models = args.model and [model if "/" in model else pretrained_entry(model).hub_id for model in args.model]
    print(f"pushed the demo Space to {push_space(args.repo_id, models=models, private=args.private)}")
