"""`fer-hub export-onnx`: a model folder as an ONNX file (fp32, or dynamic int8)."""

from __future__ import annotations

import argparse

from .options import MODEL_FLAGS, add_trust_remote_code, check_model_names

FLAGS = {**MODEL_FLAGS, "model_reference": "--model"}


def add_parser(commands) -> argparse.ArgumentParser:
    export = commands.add_parser("export-onnx", help="export a model folder to ONNX")
    export.add_argument("--model", required=True, help="trained model name, model folder or Hub repo id")
    export.add_argument("--output", required=True)
    export.add_argument("--int8", action="store_true", help="dynamic int8 quantization")
    add_trust_remote_code(export)
    return export


def run(args: argparse.Namespace) -> None:
    check_model_names(args.model)  # before torch is imported
    from ..models.onnx_export import export_onnx
    from ..output_paths import check_outputs, local_files

    check_outputs([("output", args.output)], inputs=local_files(args.model))  # not the model file itself
    output = export_onnx(args.model, args.output, int8=args.int8, trust_remote_code=args.trust_remote_code)
    print(f"wrote {output} ({'dynamic int8' if args.int8 else 'fp32'}, {output.stat().st_size / 1e6:.2f} MB)")
