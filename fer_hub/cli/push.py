"""`fer-hub push`: publish a trained model folder, with a freshly generated model card, to the Hub."""

from __future__ import annotations

import argparse

FLAGS = {"model_dir": "--model"}


def add_parser(commands) -> argparse.ArgumentParser:
    push = commands.add_parser("push", help="publish a trained model folder to the Hub")
    push.add_argument(
        "--model", required=True, help="trained model folder or name (checkpoints/ and pickles are not uploaded)"
    )
    push.add_argument("--repo-id", required=True, metavar="OWNER/NAME")
    push.add_argument("--private", action="store_true")
    push.add_argument("--revision", metavar="BRANCH", help="branch to commit to, created if missing (default: main)")
    push.add_argument("--commit-message", help="default: names the model and its scores")
    return push


def run(args: argparse.Namespace) -> None:
    from ..hub.push import push_model

    url = push_model(
        args.model, args.repo_id, private=args.private, revision=args.revision, commit_message=args.commit_message
    )
    print(f"pushed {args.model} to {url}")
