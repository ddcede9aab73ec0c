"""What the paths given to `fer-hub predict` are: images, videos or folders of them. Light on
purpose (no OpenCV, no torch): the command decides here which path to take before importing either."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")
TABLE_OPTIONS = (
    "csv",
    "jsonl",
    "every",
    "fps",
    "smooth",
    "detect_interval",
    "annotate",
    "timeline",
)  # need fer_hub.cli.predict_media


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_image_file(path: str | Path) -> bool:
    """A file name Pillow can open, by its extension."""
    extensions = Image.registered_extensions()
    suffix = Path(path).suffix.lower()
    return suffix in extensions and extensions[suffix] in Image.OPEN


def is_media_folder(value: str | Path) -> bool:
    """A folder of images or videos to predict on (a model folder has a config.json)."""
    return Path(value).is_dir() and not (Path(value) / "config.json").is_file()


def uses_media(paths: list[str], options: dict) -> bool:
    """Whether `fer-hub predict` needs fer_hub.cli.predict_media: a table, a video option, a video or a folder."""
    return any(options.get(name) is not None for name in TABLE_OPTIONS) or any(
        is_video(value) or is_media_folder(value) for value in paths
    )
