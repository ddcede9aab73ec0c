"""`fer-hub predict`: the faces of each image with box, label and the 7 scores, as text or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..data.image_io import read_image
from ..errors import FerHubError
from ..inference.faces import boxes_in_image
from ..inference.recognizer import EmotionRecognizer, count_faces, get_recognizer

NO_FACE_HINT = (
    "try a closer or larger photo, or give each face's box with --boxes X,Y,W,H; "
    "--whole-image only if the image is already one cropped face"
)


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
    try:
        loaded = read_image(path, name=str(path))
    except FerHubError as error:
        return {"image": str(path), "faces": [], "message": str(error), "error": True}
    if boxes:
        try:
            boxes = boxes_in_image(boxes, loaded.image.size, loaded.scale)
        except FerHubError as error:
            raise FerHubError(f"{path}: {error}") from None
    faces = recognizer.recognize(loaded.image, tta=tta, whole_image=whole_image, boxes=boxes)
    message = count_faces(faces) + ("" if faces else f" ({NO_FACE_HINT})")
    return {"image": str(path), "faces": [face.to_dict(loaded.scale) for face in faces], "message": message}


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
) -> None:
    """Print the faces of every image (with one model or the ensemble of several; `boxes`: these faces of each image,
    without detection); unreadable images are reported on stderr without stopping the others, then counted in a
    final FerHubError."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    recognizer = get_recognizer(model, trust_remote_code=trust_remote_code)
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
