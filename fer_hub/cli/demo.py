"""`fer-hub demo`: the Gradio demo on this machine; host and port are checked before gradio is imported."""

from __future__ import annotations

import argparse

from ..checks import check_can_listen, check_host, check_port
from .options import MODEL_FLAGS, add_device, add_trust_remote_code, check_model_names

FLAGS = dict(MODEL_FLAGS)


def add_parser(commands) -> argparse.ArgumentParser:
    demo = commands.add_parser("demo", help="launch the Gradio demo locally")
    demo.add_argument(
        "--model",
        action="append",
        metavar="MODEL",
        help="a trained model name, model folder or Hub id the picker offers; repeat for several, which the picker "
        "also offers as their ensemble (default: sepnet.ferplus)",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=7860)
    add_device(demo)
    add_trust_remote_code(demo)
    return demo


def run(args: argparse.Namespace) -> None:
    from ..inference.devices import resolve_device

    check_model_names(args.model)
    resolve_device(args.device)
    check_host(args.host)
    check_can_listen(args.host, check_port(args.port))  # before gradio is imported and the models load

    from ..demo.app import launch_demo

    launch_demo(
        models=args.model,
        host=args.host,
        port=args.port,
        trust_remote_code=args.trust_remote_code,
        device=args.device,
    )
