"""Awkward and hostile data sources: each is one `error:` line naming the file (and line, field), or is read as
meant; nothing raises a traceback, and one enormous line is refused in bounded memory."""

from __future__ import annotations

import gzip
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from fer_hub.cli.main import main
from fer_hub.data.fer2013 import load_fer2013
from fer_hub.data.text_lines import MAX_LINE_CHARS
from fer_hub.errors import FerHubError

HEADER = "emotion,pixels,Usage"
PIXELS = " ".join(["128"] * 2304)


@pytest.fixture(autouse=True)
def own_datasets_cache(tmp_path, monkeypatch):
    """A datasets cache of the test's own: nothing from other tests, nothing left behind."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))


def _csv(tmp_path: Path, *rows: str, name: str = "data.csv", text: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(text if text is not None else "\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _train_error(capsys, data: Path, tmp_path: Path) -> str:
    """`fer-hub train` on `data`: exit 2 and exactly one error line, which is returned."""
    assert main(["train", "--model", "cnn", "--data", str(data), "--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _png(path: Path, side: int = 48) -> Path:
    Image.fromarray(np.full((side, side), 128, dtype=np.uint8)).save(path)
    return path


# --- Kaggle CSVs ------------------------------------------------------------------------------


def test_corrupt_gzip_body(tmp_path, capsys):
    good = gzip.compress(("\n".join([HEADER] + [f"0,{PIXELS},Training"] * 50) + "\n").encode())
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(good[:20] + bytes(b ^ 0x5A for b in good[20:200]) + good[200:])
    assert f"{broken}: cannot read as a CSV file" in _train_error(capsys, broken, tmp_path)


@pytest.mark.parametrize(
    "row, message",
    [
        (f"٣,{PIXELS},Training", "field 'emotion' is '٣'"),  # Arabic-Indic three
        (f"²,{PIXELS},Training", "field 'emotion' is '²'"),  # superscript two
        (f"0,٣{PIXELS[1:]},Training", "non-integer value '٣28'"),
        (f"0,+5{PIXELS[3:]},Training", "non-integer value '+5'"),
        (f"0,1_0{PIXELS[3:]},Training", "non-integer value '1_0'"),
        (f"0,{'9' * 40}{PIXELS[3:]},Training", "has value 999999999999... outside 0-255"),
    ],
)
def test_non_plain_numbers_are_refused(row, message, tmp_path, capsys):
    line = _train_error(capsys, _csv(tmp_path, row), tmp_path)
    assert "line 2:" in line and message in line


def test_duplicate_column_is_refused(tmp_path, capsys):
    data = _csv(tmp_path, f"0,{PIXELS},Training,3", text=f"{HEADER},emotion\n0,{PIXELS},Training,3\n")
    assert "column(s) emotion appear more than once" in _train_error(capsys, data, tmp_path)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\r\n3,{PIXELS},Training\r\n".encode())
    assert load_fer2013(path)["train"]["label"] == [3]


def test_trailing_blank_line_is_accepted(tmp_path):
    path = _csv(tmp_path, text=f"{HEADER}\n3,{PIXELS},Training\n4,{PIXELS},PublicTest\n\n")
    dataset = load_fer2013(path)
    assert dataset["train"]["label"] == [3] and dataset["validation"]["label"] == [4]


def test_a_1_gb_line_is_refused_in_bounded_memory(tmp_path):
    """One 1 GiB line (gzip members of 16 MiB each, so the file stays small): refused after reading ~1 MiB."""
    member = gzip.compress(b"1 " * (8 << 20), compresslevel=1)
    path = tmp_path / "one-huge-line.csv.gz"
    with path.open("wb") as handle:
        handle.write(gzip.compress(f"{HEADER}\n0,".encode()))
        for _ in range(64):
            handle.write(member)
    tracemalloc.start()
    try:
        with pytest.raises(FerHubError, match=rf"line 2: longer than {MAX_LINE_CHARS:,} characters"):
            load_fer2013(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, f"peak {peak / 2**20:.0f} MiB"


# --- image folders ----------------------------------------------------------------------------


@pytest.fixture
def image_tree(tmp_path) -> Path:
    root = tmp_path / "faces"
    (root / "train" / "happy").mkdir(parents=True)
    _png(root / "train" / "happy" / "ok.png")
    return root


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: os.symlink(d / "loop.png", d / "loop.png"), "a symbolic link to nothing"),
        (lambda d: os.symlink(d / "missing.png", d / "dangling.png"), "a symbolic link to nothing"),
        (lambda d: (d / "x.png").mkdir(), "a folder named like an image"),
    ],
    ids=["symlink-loop", "dangling-symlink", "folder-named-x.png"],
)
def test_image_folder_entries_that_are_not_files(make, message, image_tree, tmp_path, capsys):
    make(image_tree / "train" / "happy")
    assert message in _train_error(capsys, image_tree, tmp_path)


def test_image_folder_decompression_bomb(image_tree, tmp_path, capsys):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)  # claims 900 million pixels
    bomb = image_tree / "train" / "happy" / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    line = _train_error(capsys, image_tree, tmp_path)
    assert f"{bomb}: the image is too large" in line


# --- the datasets cache -----------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated-arrow", "missing-state", "garbage-info"])
def test_damaged_cache_entry_is_rebuilt(damage, tmp_path):
    path = _csv(tmp_path, f"3,{PIXELS},Training", f"5,{PIXELS},PublicTest")
    load_fer2013(path)
    entry = next((tmp_path / "datasets-cache" / "fer_hub").glob("csv-*"))
    if damage == "truncated-arrow":
        arrow = next(entry.rglob("*.arrow"))
        arrow.write_bytes(arrow.read_bytes()[:100])
    elif damage == "missing-state":
        next(entry.rglob("state.json")).unlink()
    else:
        (entry / "dataset_dict.json").write_text("{not json")
    dataset = load_fer2013(path)
    assert dataset["train"]["label"] == [3] and dataset["validation"]["label"] == [5]


# --- model files and paths that are not what they seem ------------------------------------------


def _onnx_file(path: Path, metadata: dict[str, str], side: int | str = "height") -> Path:
    """A tiny ONNX graph pixel_values (N, 1, H, W) -> logits (N, 7) with `metadata` as its custom metadata."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((1, 7), np.float32), "weight")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["pixel_values"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "weight"], ["logits"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 1, side, side])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 7])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


GOOD_PROCESSOR = '{"size": {"height": 48, "width": 48}, "image_mean": 0.5, "image_std": 0.25}'
GOOD_LABELS = '{"0": "angry", "1": "disgust", "2": "fear", "3": "happy", "4": "sad", "5": "surprise", "6": "neutral"}'


@pytest.mark.parametrize(
    "metadata, side, message",
    [
        ({"fer_hub.id2label": "{not json"}, "height", "metadata field 'fer_hub.id2label' is not valid JSON"),
        ({"fer_hub.id2label": "[1, 2]"}, "height", "metadata field 'fer_hub.id2label' is not a JSON dict"),
        ({"fer_hub.image_processor": "[]"}, "height", "metadata field 'fer_hub.image_processor' is not a JSON dict"),
        ({"fer_hub.image_processor": '{"size": 48}'}, "height", "'size' must be"),
        (
            {"fer_hub.image_processor": '{"size": {"height": 60000, "width": 60000}, "image_mean": 0, "image_std": 1}'},
            "height",
            "size 60,000 pixels a side is over fer-hub's limit of 1,024",
        ),
        ({}, 60000, "input 'pixel_values' is 60,000 pixels a side, over fer-hub's limit of 1,024"),
    ],
    ids=[
        "labels-not-json",
        "labels-not-object",
        "processor-not-object",
        "size-not-object",
        "60000-px-processor",
        "60000-px-input",
    ],
)
def test_malformed_onnx_metadata_is_one_error_line(metadata, side, message, tmp_path, capsys):
    path = _onnx_file(
        tmp_path / "model.onnx",
        {"fer_hub.id2label": GOOD_LABELS, "fer_hub.image_processor": GOOD_PROCESSOR, **metadata},
        side=side,
    )
    face = _png(tmp_path / "face.png")
    assert main(["predict", "--model", str(path), "--whole-image", str(face)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(path) in lines[0] and message in lines[0], lines[0]


def test_a_well_formed_tiny_onnx_file_runs(tmp_path, capsys):
    path = _onnx_file(
        tmp_path / "model.onnx", {"fer_hub.id2label": GOOD_LABELS, "fer_hub.image_processor": GOOD_PROCESSOR}
    )
    assert main(["predict", "--model", str(path), "--whole-image", str(_png(tmp_path / "face.png"))]) == 0
    assert "1 face found" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_or_folder_is_not_called_missing(kind, tmp_path, capsys):
    target = tmp_path / "thing.png"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    assert main(["predict", "--whole-image", str(target)]) in (0, 2)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "no such file" not in text and "Traceback" not in text
    if kind == "fifo":
        assert "a FIFO (named pipe), not an image file" in text


@pytest.mark.parametrize("kind", ["fifo", "folder-with-config-folder", "onnx-folder"])
def test_model_paths_that_are_not_models(kind, tmp_path, capsys):
    if kind == "fifo":
        model = tmp_path / "model"
        os.mkfifo(model)
        message = f"{model}: cannot load a model: a FIFO (named pipe), not a model folder"
    elif kind == "onnx-folder":
        model = tmp_path / "model.onnx"
        model.mkdir()
        message = f"{model}: a folder, not an ONNX file"
    else:
        model = tmp_path / "model"
        (model / "config.json").mkdir(parents=True)
        message = f"{model / 'config.json'}: a folder, not a file"
    assert main(["predict", "--model", str(model), "--whole-image", str(_png(tmp_path / "face.png"))]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err and message in lines[0], err


def test_init_from_a_missing_folder_says_so(tmp_path, capsys):
    data = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
    argv = ["train", "--model", "cnn", "--data", str(data), "--output-dir", str(tmp_path / "out")]
    assert main([*argv, "--init-from", str(tmp_path / "nonexistent")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nonexistent'}: no such model folder" in err and "resnet101" not in err, err


def test_too_many_boxes_are_refused_before_any_face_is_cut(tmp_path, capsys):
    from fer_hub.inference.faces import MAX_BOXES_PER_IMAGE

    boxes = ["0,0,10,10"] * (MAX_BOXES_PER_IMAGE + 1)
    assert main(["predict", str(_png(tmp_path / "face.png", side=64)), "--boxes", *boxes]) == 2
    err = capsys.readouterr().err
    assert f"101 face boxes given, over the limit of {MAX_BOXES_PER_IMAGE} per image" in err and "Traceback" not in err
