"""The `fer-hub` console script: one subcommand per job, user mistakes reported without a traceback.

Each subcommand imports what it needs when it runs, so `fer-hub --help` and argument errors answer at once.
FER_HUB_DEBUG=1 shows the traceback of a reported mistake too.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .. import __version__
from ..checks import check_can_listen, check_host, check_port
from ..errors import FerHubError
from ..models.registry import list_models
from ..output_paths import check_output_file

MODEL_HELP = (
    "model folder, checkpoint name (checkpoints/NAME; 'default': the embedded model), Hub repo id or .onnx file; "
    "several: their ensemble (probabilities averaged)"
)


def _train(args: argparse.Namespace) -> None:
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
    if metrics:
        line = (
            f"saved {args.output_dir}: validation FER2013-label accuracy {metrics['accuracy']:.4f}, "
            f"macro-F1 {metrics['f1_macro']:.4f}"
        )
        if "ferplus_majority" in metrics:
            ferplus = metrics["ferplus_majority"]
            line += f"; FER+ majority accuracy {ferplus['accuracy']:.4f}, macro-F1 {ferplus['f1_macro']:.4f}"
        print(line)


def _evaluate(args: argparse.Namespace) -> None:
    from ..evaluation.evaluate import evaluate, format_report, write_evaluation

    if args.output:
        check_output_file(args.output)  # before the evaluation, not after it
    metrics = evaluate(
        args.model, args.data, args.split, tta=args.tta, trust_remote_code=args.trust_remote_code, votes=args.votes
    )
    print(format_report(metrics))
    if args.output:
        image = write_evaluation(metrics, Path(args.output))
        print(f"wrote {args.output} and {image}")


def _box(text: str) -> list[int]:
    """A `--boxes` value: x,y,w,h in whole pixels."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not a face box X,Y,W,H (four whole numbers, after the images)")
    return values


def _predict(args: argparse.Namespace) -> None:
    from ..media.paths import TABLE_OPTIONS, split_models_and_images, uses_media

    model, images = args.model, args.images
    if isinstance(model, list):
        model, images = split_models_and_images(model, images)
    if not images:
        raise FerHubError("no IMAGE given")
    if model == []:
        raise FerHubError("--model names no model before the images")
    common = dict(
        model=model,
        as_json=args.json,
        tta=args.tta,
        whole_image=args.whole_image,
        trust_remote_code=args.trust_remote_code,
    )
    media = {name: getattr(args, name) for name in TABLE_OPTIONS}
    if uses_media(images, media):
        if args.boxes:
            raise FerHubError("--boxes applies to image files, not to folders, videos or --csv/--jsonl tables")
        from .predict_media import predict_media

        predict_media(images, **media, **common)
        return
    from .predict import predict_command

    predict_command(images, **common, boxes=args.boxes)


def _predict_data(args: argparse.Namespace) -> None:
    from ..evaluation.predictions import predict_data

    output = predict_data(
        args.model, args.data, args.split, args.output, tta=args.tta, trust_remote_code=args.trust_remote_code
    )
    print(f"wrote {output}")


def _export_onnx(args: argparse.Namespace) -> None:
    from ..models.onnx_export import export_onnx

    output = export_onnx(args.model, args.output, int8=args.int8, trust_remote_code=args.trust_remote_code)
    print(f"wrote {output} ({'dynamic int8' if args.int8 else 'fp32'}, {output.stat().st_size / 1e6:.2f} MB)")


def _demo(args: argparse.Namespace) -> None:
    check_host(args.host)
    check_can_listen(args.host, check_port(args.port))  # before gradio is imported and the models load

    from ..demo.app import launch_demo

    launch_demo(models=args.model, host=args.host, port=args.port, trust_remote_code=args.trust_remote_code)


def _push(args: argparse.Namespace) -> None:
    from ..hub.push import push_model

    url = push_model(
        args.model, args.repo_id, private=args.private, revision=args.revision, commit_message=args.commit_message
    )
    print(f"pushed {args.model} to {url}")


def _card(args: argparse.Namespace) -> None:
    from ..hub.model_card import write_model_card

    print(f"wrote {write_model_card(args.model_dir, repo_id=args.repo_id)}")


def _push_space(args: argparse.Namespace) -> None:
    from ..hub.push import push_space

    print(f"pushed the demo Space to {push_space(args.repo_id, models=args.model, private=args.private)}")


def _add_trust_remote_code(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run the Python code a model folder or Hub repo brings (needed only for architectures that are not "
        "fer-hub's own; only for code you trust)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fer-hub", description="Facial-expression recognition models for transformers."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a zoo model with its recipe")
    train.add_argument("--model", required=True, help=f"zoo name: {', '.join(list_models())}")
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
        metavar="REPO_OR_DIR",
        help="a fer-hub model folder of the same architecture, or an ImageNet checkpoint for resnet101 or vit",
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
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="score a trained model on one split")
    evaluate.add_argument("--model", required=True, nargs="+", help=MODEL_HELP)
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    evaluate.add_argument("--output", help="metrics JSON path (a confusion-matrix PNG is written beside it)")
    evaluate.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    evaluate.add_argument(
        "--votes",
        metavar="PATH",
        help="FER+ votes file for the rows of the --data CSV: also score against the FER+ majority",
    )
    _add_trust_remote_code(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser("predict", help="faces and expressions in images")
    predict.add_argument("images", nargs="*", metavar="IMAGE")
    predict.add_argument("--model", nargs="+", help=f"{MODEL_HELP} (default: the embedded model)")
    predict.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    predict.add_argument("--tta", action="store_true", help="average with the horizontally flipped faces")
    predict.add_argument(
        "--whole-image", action="store_true", help="classify each whole image as one face (already-cropped faces)"
    )
    predict.add_argument(
        "--boxes",
        nargs="+",
        type=_box,
        metavar="X,Y,W,H",
        help="classify these face boxes (pixels of the image file) instead of detecting faces; after the images",
    )
    table = predict.add_argument_group("folders and videos (IMAGE may be a folder, searched recursively, or a video)")
    table.add_argument("--csv", metavar="FILE", help="one row per face per image or video frame ('-': stdout)")
    table.add_argument("--jsonl", metavar="FILE", help="the same rows as JSON Lines ('-': stdout)")
    table.add_argument("--every", type=int, metavar="N", help="analyse every N-th video frame (default: all)")
    table.add_argument("--fps", type=float, metavar="F", help="analyse about F video frames per second")
    table.add_argument("--smooth", type=float, metavar="SECONDS", help="average each face's scores over about SECONDS")
    table.add_argument(
        "--annotate",
        metavar="OUT",
        help="annotated copy of the video (OUT.mp4/.avi/.webm; a folder for several videos)",
    )
    table.add_argument(
        "--timeline", metavar="DIR", help="folder for each video's timeline PNG (default: the table's folder)"
    )
    _add_trust_remote_code(predict)
    predict.set_defaults(handler=_predict)

    predict_data = commands.add_parser("predict-data", help="predict every face of a data split into a CSV")
    predict_data.add_argument("--model", nargs="+", help=f"{MODEL_HELP} (default: the embedded model)")
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
    _add_trust_remote_code(predict_data)
    predict_data.set_defaults(handler=_predict_data)

    export = commands.add_parser("export-onnx", help="export a model folder to ONNX")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True)
    export.add_argument("--int8", action="store_true", help="dynamic int8 quantization")
    _add_trust_remote_code(export)
    export.set_defaults(handler=_export_onnx)

    demo = commands.add_parser("demo", help="launch the Gradio demo locally")
    demo.add_argument("--model", nargs="*", default=None, help="model folders or Hub ids (default: embedded model)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=7860)
    _add_trust_remote_code(demo)
    demo.set_defaults(handler=_demo)

    push = commands.add_parser("push", help="publish a trained model folder to the Hub")
    push.add_argument("--model", required=True, help="trained model folder (checkpoints/ and pickles are not uploaded)")
    push.add_argument("--repo-id", required=True, metavar="OWNER/NAME")
    push.add_argument("--private", action="store_true")
    push.add_argument("--revision", metavar="BRANCH", help="branch to commit to, created if missing (default: main)")
    push.add_argument("--commit-message", help="default: names the model and its scores")
    push.set_defaults(handler=_push)

    card = commands.add_parser("card", help="write the model card README.md into a model folder")
    card.add_argument("model_dir")
    card.add_argument(
        "--repo-id", metavar="OWNER/NAME", help="the repo id the usage snippets name (default: a placeholder)"
    )
    card.set_defaults(handler=_card)

    space = commands.add_parser("push-space", help="publish the Gradio demo as a Hub Space")
    space.add_argument("--repo-id", required=True, metavar="OWNER/NAME")
    space.add_argument(
        "--model",
        nargs="*",
        default=None,
        metavar="REPO_ID",
        help="Hub model ids the Space offers besides the embedded model (sets its FER_HUB_MODELS "
        "variable; left as it is when omitted)",
    )
    space.add_argument("--private", action="store_true")
    space.set_defaults(handler=_push_space)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # No "Loading weights" bar on each model load (read when huggingface_hub is imported, in this process and its
    # children): the commands say what they did themselves.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        args.handler(args)
    except FerHubError as error:
        if os.environ.get("FER_HUB_DEBUG", "0") not in ("", "0"):
            traceback.print_exc()
        print(f"fer-hub {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fer-hub {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
