"""load_fer2013: every local source, caching, and every bad-data case with the error text."""

from __future__ import annotations

import collections
import gzip
import io
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from fer_hub import LABELS, load_fer2013
from fer_hub.errors import FerHubError

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
GOOD_PIXELS = " ".join(["128"] * 2304)


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kaggle_csv_gz_maps_usage_to_splits():
    dataset = load_fer2013(FIXTURE)
    assert list(dataset) == ["train", "validation", "test"]
    assert {split: len(rows) for split, rows in dataset.items()} == {"train": 84, "validation": 35, "test": 14}
    assert dataset["train"].features["label"].names == list(LABELS)
    assert isinstance(dataset["train"].features["image"], datasets.Image)
    image = dataset["train"][0]["image"]
    assert image.size == (48, 48) and image.mode == "L"
    assert collections.Counter(dataset["validation"]["label"]) == dict.fromkeys(range(7), 5)


def test_plain_csv_keeps_pixels_and_only_present_splits(tmp_path):
    pixels = " ".join(str(i % 256) for i in range(2304))
    path = write_csv(
        tmp_path / "two.csv", ["emotion,pixels,Usage", f"3,{pixels},Training", f"5,{GOOD_PIXELS},Training"]
    )
    dataset = load_fer2013(path)
    assert list(dataset) == ["train"]
    assert dataset["train"]["label"] == [3, 5]
    np.testing.assert_array_equal(np.asarray(dataset["train"][0]["image"]).ravel(), np.arange(2304) % 256)


def test_csv_without_usage_column_is_all_train(tmp_path):
    path = write_csv(tmp_path / "kaggle-train.csv", ["emotion,pixels", f"0,{GOOD_PIXELS}"])
    assert {split: len(rows) for split, rows in load_fer2013(path).items()} == {"train": 1}


def test_image_folder_tree(tmp_path):
    source = load_fer2013(FIXTURE)
    for split_name, folder in (("train", "train"), ("test", "test")):
        for i, row in enumerate(source[split_name]):
            target = tmp_path / "faces" / folder / LABELS[row["label"]]
            target.mkdir(parents=True, exist_ok=True)
            row["image"].save(target / f"{i}.{'png' if i % 2 else 'jpg'}")
    dataset = load_fer2013(tmp_path / "faces")
    assert {split: len(rows) for split, rows in dataset.items()} == {"train": 84, "test": 14}
    assert sorted(dataset["test"]["label"]) == sorted(source["test"]["label"])


def test_parsed_once_then_served_from_cache(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "one.csv", ["emotion,pixels,Usage", f"1,{GOOD_PIXELS},PublicTest"])
    load_fer2013(path)
    import fer_hub.data.fer2013

    monkeypatch.setattr(fer_hub.data.fer2013, "_parse_kaggle_csv", lambda path: pytest.fail("parsed again"))
    assert load_fer2013(path)["validation"]["label"] == [1]
    write_csv(path, ["emotion,pixels,Usage", f"2,{GOOD_PIXELS},PublicTest"])
    with pytest.raises(pytest.fail.Exception):
        load_fer2013(path)  # new contents, new fingerprint: parsed again


@pytest.mark.parametrize(
    "row, message",
    [
        (f"0,{' '.join(['1'] * 2303)},Training", "line 3: field 'pixels' has 2303 values, expected 2304"),
        (f"0,{GOOD_PIXELS[:-3]}1.5,Training", "line 3: field 'pixels' has a non-integer value '1.5'"),
        (f"0,{GOOD_PIXELS[:-3]}abc,Training", "line 3: field 'pixels' has a non-integer value 'abc'"),
        (f"0,{GOOD_PIXELS[:-3]}256,Training", "line 3: field 'pixels' has value 256 outside 0-255"),
        (f"0,-1{GOOD_PIXELS[3:]},Training", "line 3: field 'pixels' has value -1 outside 0-255"),
        (f"7,{GOOD_PIXELS},Training", "line 3: field 'emotion' is '7', expected an integer label 0-6"),
        (f"happy,{GOOD_PIXELS},Training", "line 3: field 'emotion' is 'happy', expected an integer label 0-6"),
        (
            f"0,{GOOD_PIXELS},Validation",
            "line 3: field 'Usage' is 'Validation', expected one of Training, PublicTest, PrivateTest",
        ),
        (f"0,{GOOD_PIXELS}", "line 3: 2 fields, expected 3"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, row, message):
    path = write_csv(tmp_path / "bad.csv", ["emotion,pixels,Usage", f"0,{GOOD_PIXELS},Training", row])
    with pytest.raises(FerHubError) as error:
        load_fer2013(path)
    assert str(error.value) == f"{path}, {message}" or str(error.value).startswith(f"{path}, {message}")


@pytest.mark.parametrize(
    "header, message",
    [
        ("emotion,Usage", "line 1: missing column(s) pixels"),
        ("pixels,Usage", "line 1: missing column(s) emotion"),
        ("", "line 1: missing column(s) emotion, pixels"),
    ],
)
def test_missing_header_or_column(tmp_path, header, message):
    path = write_csv(tmp_path / "header.csv", [header, f"0,{GOOD_PIXELS}"])
    with pytest.raises(FerHubError, match=rf"^{path}, {message.replace('(', '[(]').replace(')', '[)]')}"):
        load_fer2013(path)


def test_corrupt_gzip_and_unknown_source(tmp_path):
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"emotion,pixels,Usage\n")[:10])
    with pytest.raises(FerHubError, match=rf"^{broken}: cannot read as a CSV file"):
        load_fer2013(broken)
    with pytest.raises(FerHubError, match="nope.csv: no such file or folder"):
        load_fer2013(tmp_path / "nope.csv")
    not_csv = tmp_path / "faces.parquet"
    not_csv.write_bytes(b"x")
    with pytest.raises(FerHubError, match="not a FER2013 CSV"):
        load_fer2013(not_csv)


def test_bad_image_folders(tmp_path):
    (tmp_path / "a" / "train" / "smiling").mkdir(parents=True)
    with pytest.raises(FerHubError, match=r"a/train/smiling: unknown class folder"):
        load_fer2013(tmp_path / "a")
    (tmp_path / "b" / "holdout" / "happy").mkdir(parents=True)
    with pytest.raises(FerHubError, match=r"b/holdout: unknown split folder"):
        load_fer2013(tmp_path / "b")
    happy = tmp_path / "c" / "train" / "happy"
    happy.mkdir(parents=True)
    buffer = io.BytesIO()
    Image.new("L", (48, 48)).save(buffer, format="PNG")
    (happy / "cut.png").write_bytes(buffer.getvalue()[:40])
    with pytest.raises(FerHubError, match=r"c/train/happy/cut.png: not a readable image"):
        load_fer2013(tmp_path / "c")
    (tmp_path / "d" / "train").mkdir(parents=True)
    with pytest.raises(FerHubError, match="no images found"):
        load_fer2013(tmp_path / "d")


def test_shared_fer2013_csv_split_and_class_counts(monkeypatch):
    monkeypatch.undo()  # the user cache: warm after the first run
    dataset = load_fer2013(SHARED_CSV)
    assert {split: len(rows) for split, rows in dataset.items()} == {"train": 28709, "validation": 3589}
    assert collections.Counter(dataset["train"]["label"]) == dict(enumerate([3995, 436, 4097, 7215, 4830, 3171, 4965]))
    assert collections.Counter(dataset["validation"]["label"]) == dict(enumerate([467, 56, 496, 895, 653, 415, 607]))
