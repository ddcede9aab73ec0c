"""`fer-hub export-onnx`: a model folder as an ONNX file (fp32, or static int8 checked against fp32)."""

from __future__ import annotations

import argparse

from .options import MODEL_FLAGS, add_trust_remote_code, check_model_names

FLAGS = {**MODEL_FLAGS, "model_reference": "--model"}


def add_parser(commands) -> argparse.ArgumentParser:
    export = commands.add_parser("export-onnx", help="export a model folder to ONNX")
    export.add_argument("--model", required=True, help="trained model name, model folder or Hub repo id")
    export.add_argument("--output", required=True)
    export.add_argument(
        "--int8",
        action="store_true",
        help="static int8 (faster on CPUs with int8 instructions): calibrated on --data's Training faces, written only if "
        "its PublicTest accuracy stays within 0.3 points of fp32 (else fp32 is written)",
    )
    export.add_argument("--data", metavar="CSV", help="FER2013 CSV with Training and PublicTest rows, for --int8")
    add_trust_remote_code(export)
    return export


def run(args: argparse.Namespace) -> None:
    check_model_names(args.model)  # before torch is imported
    from ..models.onnx_export import export_onnx
    from ..output_paths import check_outputs, local_files

    inputs = [*local_files(args.model), *([args.data] if args.data else [])]
    check_outputs([("output", args.output)], inputs=inputs)  # not the model file itself, nor the data
    result = export_onnx(
        args.model, args.output, int8=args.int8, data=args.data, trust_remote_code=args.trust_remote_code
    )
    print(result.describe())
