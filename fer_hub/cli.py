"""The `fer-hub` console script: one subcommand per job, user mistakes reported without a traceback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import FerHubError


def _train(args: argparse.Namespace) -> None:
    from .training import train

    metrics = train(
        args.model, args.data, args.output_dir, recipe_path=args.recipe, max_steps=args.max_steps,
        time_budget_minutes=args.time_budget, resume=args.resume, init_from=args.init_from,
    )
    if metrics:
        print(f"saved {args.output_dir}: validation accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['f1_macro']:.4f}")


def _evaluate(args: argparse.Namespace) -> None:
    from .evaluation import evaluate, format_report, write_evaluation

    metrics = evaluate(args.model, args.data, args.split, tta=args.tta)
    print(format_report(metrics))
    if args.output:
        image = write_evaluation(metrics, Path(args.output))
        print(f"wrote {args.output} and {image}")


def _predict(args: argparse.Namespace) -> None:
    from .predict import predict_command

    predict_command(args.images, model=args.model, as_json=args.json, tta=args.tta, whole_image=args.whole_image)


def _export_onnx(args: argparse.Namespace) -> None:
    from .onnx_export import export_onnx

    export_onnx(args.model, args.output, int8=args.int8)


def _demo(args: argparse.Namespace) -> None:
    from .demo import launch_demo

    launch_demo(models=args.model, host=args.host, port=args.port)


def _push(args: argparse.Namespace) -> None:
    from .hub import push_model

    url = push_model(args.model, args.repo_id, private=args.private, revision=args.revision,
                     commit_message=args.commit_message)
    print(f"pushed {args.model} to {url}")


def _card(args: argparse.Namespace) -> None:
    from .model_card import write_model_card

    print(f"wrote {write_model_card(args.model_dir, repo_id=args.repo_id)}")


def _push_space(args: argparse.Namespace) -> None:
    from .hub import push_space

    print(f"pushed the demo Space to {push_space(args.repo_id, models=args.model, private=args.private)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fer-hub", description="Facial-expression recognition models for transformers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a zoo model with its recipe")
    train.add_argument("--model", required=True, help="zoo name: vgg16, resnet101, cnn, rnn, vit, sepnet")
    train.add_argument("--data", required=True, help="Kaggle CSV(.gz), image-folder tree or Hub dataset id")
    train.add_argument("--output-dir", required=True)
    train.add_argument("--recipe", help="recipe YAML (default: train/recipes/MODEL.yaml)")
    train.add_argument("--max-steps", type=int)
    train.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop cleanly after this wall-clock time")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    train.add_argument("--init-from", metavar="REPO_OR_DIR", help="ImageNet checkpoint for resnet101 or vit")
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser("evaluate", help="score a trained model on one split")
    evaluate.add_argument("--model", required=True, help="model folder or Hub repo id")
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--split", default="validation", choices=["train", "validation", "test"])
    evaluate.add_argument("--output", help="metrics JSON path (a confusion-matrix PNG is written beside it)")
    evaluate.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser("predict", help="faces and expressions in images")
    predict.add_argument("images", nargs="+", metavar="IMAGE")
    predict.add_argument("--model", help="model folder, Hub repo id or .onnx file (default: the embedded model)")
    predict.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    predict.add_argument("--tta", action="store_true", help="average with the horizontally flipped faces")
    predict.add_argument("--whole-image", action="store_true", help="classify each whole image as one face (already-cropped faces)")
    predict.set_defaults(handler=_predict)

    export = commands.add_parser("export-onnx", help="export a model folder to ONNX")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True)
    export.add_argument("--int8", action="store_true", help="dynamic int8 quantization")
    export.set_defaults(handler=_export_onnx)

    demo = commands.add_parser("demo", help="launch the Gradio demo locally")
    demo.add_argument("--model", nargs="*", default=None, help="model folders or Hub ids (default: embedded model)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=7860)
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
    card.add_argument("--repo-id", metavar="OWNER/NAME", help="the repo id the usage snippets name (default: a placeholder)")
    card.set_defaults(handler=_card)

    space = commands.add_parser("push-space", help="publish the Gradio demo as a Hub Space")
    space.add_argument("--repo-id", required=True, metavar="OWNER/NAME")
    space.add_argument("--model", nargs="*", default=None, metavar="REPO_ID",
                       help="Hub model ids the Space offers besides the embedded model (sets its FER_HUB_MODELS "
                            "variable; left as it is when omitted)")
    space.add_argument("--private", action="store_true")
    space.set_defaults(handler=_push_space)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except FerHubError as error:
        print(f"fer-hub {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fer-hub {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
