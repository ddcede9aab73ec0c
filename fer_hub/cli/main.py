"""The `fer-hub` console script: one subcommand per job, user mistakes reported without a traceback.

Each subcommand is a module of this package with `add_parser(commands)` (its subparser), `run(args)` (the
handler, which imports what it needs when it runs, so `fer-hub --help` and argument errors answer at once) and
`FLAGS` (the flag that sets each library parameter whose flag is not `--` + its name with `-` for `_`).
A library function's `ParameterError` names its Python parameter; the CLI shows the flag instead, also for other
parameters the problem names in backquotes (`every` -> --every). FER_HUB_DEBUG=1 shows the traceback of a
reported mistake too.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback

from .. import __version__
from ..errors import FerHubError, ParameterError
from . import card, demo, evaluate, export_onnx, models, predict, predict_data, push, push_space, train

COMMANDS = (
    models,
    train,
    evaluate,
    predict,
    predict_data,
    export_onnx,
    demo,
    push,
    card,
    push_space,
)  # in --help's order
MENTIONED_PARAMETER = re.compile(r"`([a-z_][a-z0-9_]*)`")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fer-hub", description="Facial-expression recognition models for transformers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands).set_defaults(handler=command.run, flags=command.FLAGS)
    return parser


def flag_for(parameter: str, flags: dict[str, str]) -> str:
    """The command-line name of a library parameter: the command's FLAGS entry, else `--` + its name."""
    return flags.get(parameter) or "--" + parameter.replace("_", "-")


def parameter_message(error: ParameterError, flags: dict[str, str]) -> str:
    """`--flag: problem`, with the parameters the problem names in backquotes shown as their flags too."""
    problem = MENTIONED_PARAMETER.sub(lambda match: flag_for(match.group(1), flags), error.problem)
    return f"{flag_for(error.parameter, flags)}: {problem}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as given (`fer-hub train` records it in the run folder)
    # No "Loading weights" bar on each model load (read when huggingface_hub is imported, in this process and its
    # children): the commands say what they did themselves.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        args.handler(args)
    except FerHubError as error:
        if os.environ.get("FER_HUB_DEBUG", "0") not in ("", "0"):
            traceback.print_exc()
        message = parameter_message(error, args.flags) if isinstance(error, ParameterError) else error
        print(f"fer-hub {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fer-hub {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
