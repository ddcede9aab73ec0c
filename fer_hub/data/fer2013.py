"""FER2013 as a `datasets.DatasetDict` (columns `image`, `label`) from a Kaggle CSV, an image-folder
tree or a Hub dataset id, optionally with the FER+ crowd votes for a CSV's rows (columns `votes`,
`ferplus_label`). Local sources are parsed once and cached in datasets' cache, keyed on a fingerprint
of their contents."""

from __future__ import annotations

import csv
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

from ..errors import FerHubError
from ..labels import LABELS, NO_FERPLUS_LABEL
from .image_io import MAX_PIXELS
from .text_lines import open_text_lines

IMAGE_SIDE = 48
PIXELS_PER_IMAGE = IMAGE_SIDE * IMAGE_SIDE
USAGE_TO_SPLIT = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}
FOLDER_TO_SPLIT = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "publictest": "validation",
    "test": "test",
    "privatetest": "test",
}
SPLIT_ORDER = ("train", "validation", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
ASCII_DIGITS = re.compile(r"[0-9]+")  # int() would also take '+5', '1_0' and other scripts' digits
PLAIN_INTEGER = re.compile(r"-?[0-9]+")
PLAIN_INTEGERS = re.compile(r"-?[0-9]+(?: -?[0-9]+)*")
CACHE_FORMAT_VERSION = "1"
NO_LABEL = -1  # the label of a face from a label-less CSV (datasets' ClassLabel convention)


def fer2013_features() -> datasets.Features:
    return datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(LABELS))})


def load_fer2013(source: str | os.PathLike, votes: str | os.PathLike | None = None) -> datasets.DatasetDict:
    """Load FER2013 from a Kaggle CSV (`.csv`/`.csv.gz`), an image-folder tree or a Hub dataset id.

    Splits: train, validation (FER2013 PublicTest) and test (PrivateTest), whichever the source has.
    A CSV with a `pixels` column only (Kaggle's test file) is unlabeled faces: all `test`, label `NO_LABEL`.
    With `votes`, a FER+ votes file for the CSV's rows (see `attach_ferplus_votes`), every split also
    has the columns `votes` and `ferplus_label`.
    """
    path = Path(source)
    if votes is not None:
        return _load_with_votes(path, Path(votes))
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


def dataset_split(dataset: datasets.DatasetDict, split: str, source: str | os.PathLike) -> datasets.Dataset:
    """`dataset[split]`, or a FerHubError naming `source` and the splits it has."""
    if split not in dataset:
        raise FerHubError(f"{source}: has no '{split}' split (found: {', '.join(dataset) or 'none'})")
    return dataset[split]


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
        try:
            return datasets.load_from_disk(str(target))
        except Exception:  # a damaged entry (files deleted, truncated or overwritten): rebuilt below
            shutil.rmtree(target, ignore_errors=True)
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
        {
            split: datasets.Dataset.from_dict(columns[split], features=features)
            for split in SPLIT_ORDER
            if split in columns
        }
    )


# --- Kaggle CSV ------------------------------------------------------------------------------


def _open_text(path: Path):
    return open_text_lines(path)  # bounded line length, BOM dropped, read errors as FerHubErrors


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.reshape(IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _check_unique_columns(header: list[str], path: Path) -> None:
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise FerHubError(f"{path}, line 1: column(s) {', '.join(repeated)} appear more than once; expected each once")


def _parse_pixels(text: str, where: str) -> np.ndarray:
    values = text.split()
    if len(values) != PIXELS_PER_IMAGE:
        raise FerHubError(f"{where}: field 'pixels' has {len(values)} values, expected {PIXELS_PER_IMAGE} (48x48)")
    if not PLAIN_INTEGERS.fullmatch(" ".join(values)):
        bad = next(v for v in values if not PLAIN_INTEGER.fullmatch(v))
        raise FerHubError(f"{where}: field 'pixels' has a non-integer value {bad!r} (expected plain digits 0-255)")
    try:
        pixels = np.array(values, dtype=np.int64)
    except OverflowError:
        bad = next(v for v in values if len(v.lstrip("-0")) > 3)
        raise FerHubError(
            f"{where}: field 'pixels' has value {bad[:12]}{'...' if len(bad) > 12 else ''} outside 0-255"
        ) from None
    if pixels.min() < 0 or pixels.max() > 255:
        bad = int(pixels[(pixels < 0) | (pixels > 255)][0])
        raise FerHubError(f"{where}: field 'pixels' has value {bad} outside 0-255")
    return pixels


def _parse_label(text: str, where: str) -> int:
    if not ASCII_DIGITS.fullmatch(text.strip()) or int(text) >= len(LABELS):
        raise FerHubError(f"{where}: field 'emotion' is {text!r}, expected an integer label 0-6")
    return int(text)


def _parse_kaggle_csv(path: Path) -> datasets.DatasetDict:
    columns: dict[str, dict[str, list]] = {}
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            _check_unique_columns(header, path)
            unlabeled = "pixels" in header and "emotion" not in header and "Usage" not in header
            missing = [] if unlabeled else [name for name in ("emotion", "pixels") if name not in header]
            if missing:
                raise FerHubError(
                    f"{path}, line 1: missing column(s) {', '.join(missing)}; "
                    f"expected the header 'emotion,pixels,Usage', found {','.join(header) or 'nothing'}"
                )
            emotion_at, pixels_at = None if unlabeled else header.index("emotion"), header.index("pixels")
            usage_at = header.index("Usage") if "Usage" in header else None
            for row in reader:
                if not row:  # a blank line, e.g. the last one
                    continue
                where = f"{path}, line {reader.line_num}"
                if len(row) != len(header):
                    raise FerHubError(f"{where}: {len(row)} fields, expected {len(header)} ({','.join(header)})")
                usage = row[usage_at] if usage_at is not None else "PrivateTest" if unlabeled else "Training"
                if usage not in USAGE_TO_SPLIT:
                    raise FerHubError(
                        f"{where}: field 'Usage' is {usage!r}, expected one of {', '.join(USAGE_TO_SPLIT)}"
                    )
                label = NO_LABEL if unlabeled else _parse_label(row[emotion_at], where)
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
                (split, class_dir.name.lower(), _regular_file(file))
                for file in sorted(class_dir.iterdir())
                if file.suffix.lower() in IMAGE_SUFFIXES
            ]
    if not files:
        raise FerHubError(f"{root}: no images found; expected {root}/train/<class>/*.jpg|png (and validation/, test/)")
    return files


def _regular_file(path: Path) -> Path:
    """`path` if it is (or links to) a file; else a FerHubError saying what it is instead."""
    if path.is_file():
        return path
    if path.is_dir():
        raise FerHubError(f"{path}: a folder named like an image; expected an image file")
    if path.is_symlink():
        raise FerHubError(f"{path}: a symbolic link to nothing (a missing target or a loop)")
    raise FerHubError(f"{path}: not a regular file")


def _read_image_folder(root: Path, files: list[tuple[str, str, Path]]) -> datasets.DatasetDict:
    columns: dict[str, dict[str, list]] = {}
    for split, label, file in files:
        data = file.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:  # checked before decoding: a decompression bomb
                    raise Image.DecompressionBombError(file)
                image.load()
        except Image.DecompressionBombError:
            raise FerHubError(f"{file}: the image is too large (over {MAX_PIXELS:,} pixels)") from None
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


# --- FER+ votes ------------------------------------------------------------------------------

FERPLUS_EMOTION_COLUMNS = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")  # LABELS' order
FERPLUS_OTHER_COLUMNS = ("contempt", "unknown", "NF")  # no FER2013 class
FERPLUS_VOTE_COLUMNS = FERPLUS_EMOTION_COLUMNS + FERPLUS_OTHER_COLUMNS


def ferplus_features() -> datasets.Features:
    votes = datasets.List(datasets.Value("float32"), length=len(LABELS))
    return datasets.Features({"votes": votes, "ferplus_label": datasets.Value("int64")})


def ferplus_targets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FER+ vote counts (one row per face, columns `FERPLUS_VOTE_COLUMNS`) -> (vote distributions, majority labels).

    The distribution is over the seven FER2013 classes, in `LABELS` order: contempt, unknown and NF votes are
    dropped and the rest normalised to sum 1 (all zeros for a face with no vote for any of the seven). The majority
    label is the class with strictly the most votes of all ten columns, or `NO_FERPLUS_LABEL` (-1) when contempt,
    unknown or NF (not a face) has the most votes or the top is a tie: such faces have no clear FER+ majority.
    """
    emotions = counts[:, : len(LABELS)].astype(np.float64)
    totals = emotions.sum(axis=1, keepdims=True)
    distribution = np.divide(emotions, totals, out=np.zeros_like(emotions), where=totals > 0).astype(np.float32)
    unique_top = (counts == counts.max(axis=1, keepdims=True)).sum(axis=1) == 1
    winner = counts.argmax(axis=1)
    return distribution, np.where(unique_top & (winner < len(LABELS)), winner, NO_FERPLUS_LABEL)


def _load_with_votes(path: Path, votes: Path) -> datasets.DatasetDict:
    if not (path.is_file() and path.name.endswith((".csv", ".csv.gz"))):
        if not path.exists() and not looks_like_hub_id(str(path)):
            raise FerHubError(f"{path}: no such file or folder")
        raise FerHubError(
            f"{path}: FER+ votes are matched to the rows of a FER2013 Kaggle CSV (.csv/.csv.gz), "
            "not of a folder or Hub dataset"
        )
    if not votes.is_file():
        raise FerHubError(f"{votes}: no such FER+ votes file")
    fingerprint = hashlib.sha256((_file_fingerprint(path) + _file_fingerprint(votes)).encode()).hexdigest()
    return _cached(path, fingerprint, "csv-ferplus", lambda: _attach_votes(load_fer2013(path), path, votes))


def _csv_usages(path: Path) -> list[str]:
    """The Usage of each data row of a Kaggle CSV that `_parse_kaggle_csv` accepted, in file order."""
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader)]
        if "Usage" not in header:
            return ["Training" for row in reader if row]
        usage_at = header.index("Usage")
        return [row[usage_at] for row in reader if row]


def _parse_votes(path: Path, csv_path: Path, usages: list[str]) -> np.ndarray:
    """Vote counts (data rows of `csv_path` x `FERPLUS_VOTE_COLUMNS`) from a FER+ votes file: one line per data
    row, matched by its `row` field and checked against the row's Usage."""
    counts = np.full((len(usages), len(FERPLUS_VOTE_COLUMNS)), -1, dtype=np.int64)
    expected = ",".join(("row", "usage", *FERPLUS_VOTE_COLUMNS))
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            _check_unique_columns(header, path)
            missing = [name for name in ("row", "usage", *FERPLUS_VOTE_COLUMNS) if name not in header]
            if missing:
                raise FerHubError(
                    f"{path}, line 1: missing column(s) {', '.join(missing)}; "
                    f"expected the header '{expected}', found {','.join(header) or 'nothing'}"
                )
            row_at, usage_at = header.index("row"), header.index("usage")
            vote_at = [header.index(name) for name in FERPLUS_VOTE_COLUMNS]
            for fields in reader:
                if not fields:  # a blank line
                    continue
                where = f"{path}, line {reader.line_num}"
                if len(fields) != len(header):
                    raise FerHubError(f"{where}: {len(fields)} fields, expected {len(header)} ({','.join(header)})")
                text = fields[row_at].strip()
                if not (text.isascii() and text.isdigit()) or int(text) >= len(usages):
                    raise FerHubError(
                        f"{where}: field 'row' is {text!r}, "
                        f"expected a data row index of {csv_path} (0-{len(usages) - 1})"
                    )
                row = int(text)
                if counts[row, 0] >= 0:
                    raise FerHubError(f"{where}: field 'row' is {row}, a row an earlier line already gave votes for")
                if fields[usage_at].strip() != usages[row]:
                    raise FerHubError(
                        f"{where}: field 'usage' is {fields[usage_at]!r}, but row {row} of {csv_path} is "
                        f"{usages[row]!r}: these votes belong to another file or row order"
                    )
                for column, (name, at) in enumerate(zip(FERPLUS_VOTE_COLUMNS, vote_at)):
                    vote = fields[at].strip()
                    if not (vote.isascii() and vote.isdigit()):
                        raise FerHubError(f"{where}: field {name!r} is {vote!r}, expected a whole number of votes")
                    counts[row, column] = int(vote)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as error:
        raise FerHubError(f"{path}: cannot read as a CSV file ({error})") from None
    absent = np.flatnonzero(counts[:, 0] < 0)
    if absent.size:
        raise FerHubError(
            f"{path}: no votes for {absent.size} of the {len(usages)} data rows of {csv_path} "
            f"(first: row {absent[0]}); expected one line per data row"
        )
    return counts


def _attach_votes(dataset: datasets.DatasetDict, csv_path: Path, votes: Path) -> datasets.DatasetDict:
    usages = _csv_usages(csv_path)
    distribution, labels = ferplus_targets(_parse_votes(votes, csv_path, usages))
    split_of_row = np.array([USAGE_TO_SPLIT[usage] for usage in usages])
    result = {}
    for name, split in dataset.items():
        rows = np.flatnonzero(split_of_row == name)
        columns = {"votes": distribution[rows].tolist(), "ferplus_label": labels[rows].tolist()}
        result[name] = datasets.concatenate_datasets(
            [split, datasets.Dataset.from_dict(columns, features=ferplus_features())], axis=1
        )
    return datasets.DatasetDict(result)
