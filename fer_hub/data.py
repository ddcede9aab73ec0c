"""FER2013 as a `datasets.DatasetDict` (columns `image`, `label`) from a Kaggle CSV, an image-folder
tree or a Hub dataset id. Local sources are parsed once and cached in datasets' cache, keyed on a
fingerprint of their contents."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import shutil
import tempfile
from pathlib import Path

import datasets
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import FerHubError
from .labels import LABELS

IMAGE_SIDE = 48
PIXELS_PER_IMAGE = IMAGE_SIDE * IMAGE_SIDE
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}
FOLDER_TO_SPLIT = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "publictest": "validation",
    "test": "test", "privatetest": "test",
}
SPLIT_ORDER = ("train", "validation", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
CACHE_FORMAT_VERSION = "1"


def fer2013_features() -> datasets.Features:
    return datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(LABELS))})


def load_fer2013(source: str | os.PathLike) -> datasets.DatasetDict:
    """Load FER2013 from a Kaggle CSV (`.csv`/`.csv.gz`), an image-folder tree or a Hub dataset id.

    Splits: train, validation (FER2013 PublicTest) and test (PrivateTest), whichever the source has.
    """
    path = Path(source)
    if path.is_file():
        if not path.name.endswith((".csv", ".csv.gz")):
            raise FerHubError(f"{path}: not a FER2013 CSV (expected a .csv or .csv.gz file)")
        return _cached(path, _file_fingerprint(path), "csv", lambda: _parse_kaggle_csv(path))
    if path.is_dir():
        files = _image_folder_files(path)
        return _cached(path, _listing_fingerprint(path, files), "folder", lambda: _read_image_folder(path, files))
    if looks_like_hub_id(str(source)):
        return _load_hub_dataset(str(source))
    raise FerHubError(f"{source}: no such file or folder")


def looks_like_hub_id(source: str) -> bool:
    """Whether a source that is no local file or folder names a Hub dataset (`name` or `owner/name`)."""
    return bool(HUB_ID.match(source)) and not source.endswith((".csv", ".gz"))


# --- caching ---------------------------------------------------------------------------------

def _file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listing_fingerprint(root: Path, files: list[tuple[str, str, Path]]) -> str:
    digest = hashlib.sha256()
    for split, label, file in files:
        stat = file.stat()
        digest.update(f"{split}/{label}/{file.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _cached(path: Path, fingerprint: str, kind: str, build) -> datasets.DatasetDict:
    cache_root = Path(datasets.config.HF_DATASETS_CACHE) / "fer_hub"
    target = cache_root / f"{kind}-v{CACHE_FORMAT_VERSION}-{fingerprint[:32]}"
    if target.is_dir():
        return datasets.load_from_disk(str(target))
    dataset = build()
    cache_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=cache_root))
    try:
        dataset.save_to_disk(str(staging))
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    return datasets.load_from_disk(str(target))


def _dataset_dict(columns: dict[str, dict[str, list]]) -> datasets.DatasetDict:
    features = fer2013_features()
    return datasets.DatasetDict(
        {split: datasets.Dataset.from_dict(columns[split], features=features) for split in SPLIT_ORDER if split in columns}
    )


# --- Kaggle CSV ------------------------------------------------------------------------------

def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", newline="", encoding="utf-8")
    return path.open(newline="", encoding="utf-8")


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.reshape(IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _parse_pixels(text: str, where: str) -> np.ndarray:
    values = text.split()
    if len(values) != PIXELS_PER_IMAGE:
        raise FerHubError(f"{where}: field 'pixels' has {len(values)} values, expected {PIXELS_PER_IMAGE} (48x48)")
    try:
        pixels = np.array(values, dtype=np.int64)
    except ValueError:
        bad = next(v for v in values if not v.lstrip("-").isdigit())
        raise FerHubError(f"{where}: field 'pixels' has a non-integer value {bad!r}") from None
    if pixels.min() < 0 or pixels.max() > 255:
        bad = int(pixels[(pixels < 0) | (pixels > 255)][0])
        raise FerHubError(f"{where}: field 'pixels' has value {bad} outside 0-255")
    return pixels


def _parse_label(text: str, where: str) -> int:
    if not text.strip().isdigit() or int(text) >= len(LABELS):
        raise FerHubError(f"{where}: field 'emotion' is {text!r}, expected an integer label 0-6")
    return int(text)


def _parse_kaggle_csv(path: Path) -> datasets.DatasetDict:
    columns: dict[str, dict[str, list]] = {}
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            missing = [name for name in ("emotion", "pixels") if name not in header]
            if missing:
                raise FerHubError(
                    f"{path}, line 1: missing column(s) {', '.join(missing)}; "
                    f"expected the header 'emotion,pixels,Usage', found {','.join(header) or 'nothing'}"
                )
            emotion_at, pixels_at = header.index("emotion"), header.index("pixels")
            usage_at = header.index("Usage") if "Usage" in header else None
            for row in reader:
                where = f"{path}, line {reader.line_num}"
                if len(row) != len(header):
                    raise FerHubError(f"{where}: {len(row)} fields, expected {len(header)} ({','.join(header)})")
                usage = row[usage_at] if usage_at is not None else "Training"
                if usage not in USAGE_TO_SPLIT:
                    raise FerHubError(
                        f"{where}: field 'Usage' is {usage!r}, expected one of {', '.join(USAGE_TO_SPLIT)}"
                    )
                label = _parse_label(row[emotion_at], where)
                image = {"bytes": _png_bytes(_parse_pixels(row[pixels_at], where)), "path": None}
                split = columns.setdefault(USAGE_TO_SPLIT[usage], {"image": [], "label": []})
                split["image"].append(image)
                split["label"].append(label)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
        raise FerHubError(f"{path}: cannot read as a CSV file ({error})") from None
    if not columns:
        raise FerHubError(f"{path}: no data rows")
    return _dataset_dict(columns)


# --- image folders ---------------------------------------------------------------------------

def _image_folder_files(root: Path) -> list[tuple[str, str, Path]]:
    """(split, label name, file) for every image under root/<split>/<class>/."""
    files = []
    for split_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        split = FOLDER_TO_SPLIT.get(split_dir.name.lower())
        if split is None:
            raise FerHubError(
                f"{split_dir}: unknown split folder; expected train, validation (or val, PublicTest) or test (PrivateTest)"
            )
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
            if class_dir.name.lower() not in LABELS:
                raise FerHubError(f"{class_dir}: unknown class folder; expected one of {', '.join(LABELS)}")
            files += [
                (split, class_dir.name.lower(), file)
                for file in sorted(class_dir.iterdir())
                if file.suffix.lower() in IMAGE_SUFFIXES
            ]
    if not files:
        raise FerHubError(f"{root}: no images found; expected {root}/train/<class>/*.jpg|png (and validation/, test/)")
    return files


def _read_image_folder(root: Path, files: list[tuple[str, str, Path]]) -> datasets.DatasetDict:
    columns: dict[str, dict[str, list]] = {}
    for split, label, file in files:
        data = file.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise FerHubError(f"{file}: not a readable image ({error})") from None
        split_columns = columns.setdefault(split, {"image": [], "label": []})
        split_columns["image"].append({"bytes": data, "path": None})
        split_columns["label"].append(LABELS.index(label))
    return _dataset_dict(columns)


# --- Hub datasets ----------------------------------------------------------------------------

def _load_hub_dataset(repo_id: str) -> datasets.DatasetDict:
    try:
        loaded = datasets.load_dataset(repo_id)
    except Exception as error:  # the Hub, network and format errors all surface here
        raise FerHubError(f"{repo_id}: cannot load this Hub dataset ({type(error).__name__}: {error})") from None
    result = {}
    for name, split in loaded.items():
        target = FOLDER_TO_SPLIT.get(name.lower())
        if target is None:
            raise FerHubError(f"{repo_id}: unknown split {name!r}; expected train, validation or test")
        result[target] = _normalise_hub_split(repo_id, split)
    return datasets.DatasetDict({split: result[split] for split in SPLIT_ORDER if split in result})


def _normalise_hub_split(repo_id: str, split: datasets.Dataset) -> datasets.Dataset:
    image_columns = [name for name, feature in split.features.items() if isinstance(feature, datasets.Image)]
    label_columns = [name for name in ("label", "labels", "emotion") if name in split.features]
    if not image_columns or not label_columns:
        raise FerHubError(f"{repo_id}: expected an image column and a label column, found {', '.join(split.features)}")
    split = split.select_columns([image_columns[0], label_columns[0]])
    split = split.rename_columns({image_columns[0]: "image", label_columns[0]: "label"})
    label_feature = split.features["label"]
    if isinstance(label_feature, datasets.ClassLabel) and label_feature.names != list(LABELS):
        unknown = set(label_feature.names) - set(LABELS)
        if unknown:
            raise FerHubError(f"{repo_id}: unknown class names {sorted(unknown)}; expected {', '.join(LABELS)}")
        names = label_feature.names
        split = split.cast_column("label", datasets.Value("int64"))
        split = split.map(lambda row: {"label": LABELS.index(names[row["label"]])})
    labels = split["label"]
    if any(not 0 <= label < len(LABELS) for label in labels):
        raise FerHubError(f"{repo_id}: labels outside 0-6")
    return split.cast(fer2013_features())
