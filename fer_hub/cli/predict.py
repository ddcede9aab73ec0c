"""`fer-hub predict`: the faces of each image with box, label and the 7 scores, as text or JSON. Folders, videos
and `--csv`/`--jsonl` tables take the path of `predict_media`. The parser is light; what predicts is imported when
the command runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FerHubError
from .options import MODEL_FLAGS, MODEL_HELP, add_device, add_trust_remote_code, check_model_names

if TYPE_CHECKING:
    from ..inference.recognizer import EmotionRecognizer

FLAGS = {**MODEL_FLAGS, "as_json": "--json", "paths": "IMAGE", "images": "IMAGE"}
NO_FACE_HINT = (
    "try a closer or larger photo, or give each face's box with --boxes X,Y,W,H; "
    "--whole-image only if the image is already one cropped face"
)


def _box(text: str) -> list[int]:
    """A `--boxes` value: x,y,w,h in whole pixels."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"{text!r} is not a face box X,Y,W,H (four whole numbers, after the images)")
    return values


def add_parser(commands) -> argparse.ArgumentParser:
    predict = commands.add_parser("predict", help="faces and expressions in images")
    predict.add_argument("images", nargs="*", metavar="IMAGE")
    predict.add_argument(
        "--model", action="append", metavar="MODEL", help=f"{MODEL_HELP} (default: the embedded model)"
    )
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
        "--detect-interval",
        type=float,
        metavar="SECONDS",
        help="find faces in a video frame at least every SECONDS of video, the frames between keeping them "
        "(default: 0.1; 0: every analysed frame)",
    )
    table.add_argument(
        "--annotate",
        metavar="OUT",
        help="annotated copy of the video (OUT.mp4/.avi/.webm; a folder for several videos)",
    )
    table.add_argument(
        "--timeline", metavar="DIR", help="folder for each video's timeline PNG (default: the table's folder)"
    )
    add_device(predict)
    add_trust_remote_code(predict)
    return predict


def run(args: argparse.Namespace) -> None:
    from ..media.paths import TABLE_OPTIONS, uses_media

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # results go to stdout: no download or loading bars

    model, images = args.model, args.images
    if not images:
        raise FerHubError("no IMAGE given")
    check_model_names(model)
    if args.boxes:
        from ..inference.faces import check_box_count

        check_box_count(args.boxes)  # before any model or image is loaded
    common = dict(
        model=model,
        as_json=args.json,
        tta=args.tta,
        whole_image=args.whole_image,
        trust_remote_code=args.trust_remote_code,
        device=args.device,
    )
    media = {name: getattr(args, name) for name in TABLE_OPTIONS}
    if uses_media(images, media):
        if args.boxes:
            raise FerHubError("--boxes applies to image files, not to folders, videos or --csv/--jsonl tables")
        from .predict_media import predict_media

        predict_media(images, **media, **common)
        return
    predict_command(images, **common, boxes=args.boxes)


def predict_file(
    recognizer: EmotionRecognizer,
    path: str | Path,
    tta: bool = False,
    whole_image: bool = False,
    boxes: list[list[float]] | None = None,
) -> dict:
    """{"image", "faces", "message"} for one image file; when it cannot be read, no faces, the problem as the
    message and "error": true (the shape of the demo's /predict API). `boxes` ([x, y, w, h] in the file's pixels):
    classify these faces instead of detecting; a bad box is a FerHubError naming the file."""
    from ..data.image_io import read_image
    from ..inference.faces import boxes_in_image
    from ..inference.recognizer import count_faces
    from ..output_paths import shown_path

    name = shown_path(path)  # a file name that is not UTF-8 with its bytes escaped: printable, valid JSON text
    try:
        loaded = read_image(path, name=name)
    except FerHubError as error:
        return {"image": name, "faces": [], "message": str(error), "error": True}
    if boxes:
        try:
            boxes = boxes_in_image(boxes, loaded.image.size, loaded.scale)
        except FerHubError as error:
            raise FerHubError(f"{name}: {error}") from None
    faces = recognizer.recognize(loaded.image, tta=tta, whole_image=whole_image, boxes=boxes)
    message = count_faces(faces) + ("" if faces else f" ({NO_FACE_HINT})")
    return {"image": name, "faces": [face.to_dict(loaded.scale) for face in faces], "message": message}


def format_result(result: dict) -> str:
    """Human-readable lines: the image and its message, then one line per face."""
    lines = [f"{result['image']}: {result['message']}"]
    for number, face in enumerate(result["faces"], start=1):
        ranked = sorted(face["scores"].items(), key=lambda item: item[1], reverse=True)
        scores = "  ".join(f"{name} {score:.3f}" for name, score in ranked)
        lines.append(f"  face {number} box {face['box']}: {face['label']}  ({scores})")
    return "\n".join(lines)


def predict_command(
    images: list[str],
    model: str | list[str] | None = None,
    as_json: bool = False,
    tta: bool = False,
    whole_image: bool = False,
    trust_remote_code: bool = False,
    boxes: list[list[float]] | None = None,
    device: str = "cpu",
) -> None:
    """Print the faces of every image (with one model or the ensemble of several; `boxes`: these faces of each image,
    without detection; `device`: see `fer_hub.inference.devices`); unreadable images are reported on stderr without stopping the others, then counted in a
    final FerHubError."""
    from ..inference.recognizer import get_recognizer

    recognizer = get_recognizer(model, trust_remote_code=trust_remote_code, device=device)
    results = []
    for path in images:
        result = predict_file(recognizer, path, tta=tta, whole_image=whole_image, boxes=boxes)
        results.append(result)
        if result.get("error"):
            print(f"error: {result['message']}", file=sys.stderr)
        elif not as_json:
            print(format_result(result), flush=True)
    if as_json:
        print(json.dumps(results, indent=2))
    failed = sum(bool(result.get("error")) for result in results)
    if failed:
        raise FerHubError(f"{failed} of {len(images)} images could not be read")
