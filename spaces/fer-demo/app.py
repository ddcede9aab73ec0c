"""Hugging Face Space entry point: the fer-hub demo. `fer-hub push-space` uploads the `fer_hub` package folder
beside this file. Offer more models with the Space variable FER_HUB_MODELS (Hub ids, space-separated)."""

import os
from pathlib import Path

from fer_hub.demo.app import build_demo, serve

demo = build_demo(os.environ.get("FER_HUB_MODELS", "").split() or None, examples_dir=Path(__file__).parent / "examples")

if __name__ == "__main__":
    serve(demo)
