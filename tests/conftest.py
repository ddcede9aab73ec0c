"""Shared fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny test models: one thread, no spinning thread teams

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def load_script():
    """Import a repo script that is not in the package (train/*.py, benchmarks/*.py) from its path."""

    def load(relative_path: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / relative_path
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory):
    """skimage's astronaut: a real face photo that ships offline."""
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


# --- the Hub stand-in (tests/hub_standin.py, a test double) and a trained folder to publish -------


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory):
    """The local Hub stand-in for the whole session; its token is random and known only to the tests."""
    import secrets

    from hub_standin import start_standin

    standin = start_standin(tmp_path_factory.mktemp("hub-standin"), token=f"hf_standin{secrets.token_hex(16)}")
    yield standin
    standin.stop()


@pytest.fixture
def hub_endpoint(hub_server, monkeypatch, tmp_path):
    """HF_ENDPOINT and HF_TOKEN point at the stand-in, in this process (huggingface_hub's constants, read at
    import, are patched) and in subprocesses (environment); no cached login or cache outside tmp_path is used."""
    from huggingface_hub import constants

    environment = {
        "HF_ENDPOINT": hub_server.endpoint,
        "HF_TOKEN": hub_server.token,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(constants, "ENDPOINT", hub_server.endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub_server.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf-home" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf-home" / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-home" / "hub"))
    unhandled_before = len(hub_server.unhandled)
    yield hub_server
    assert hub_server.unhandled[unhandled_before:] == [], "a client called endpoints the stand-in lacks"


@pytest.fixture
def repo_id(request) -> str:
    """A repo id unique to the test, in the stand-in user's namespace."""
    import re

    from hub_standin import USER

    return f"{USER}/{re.sub(r'[^A-Za-z0-9]+', '-', request.node.name).strip('-')[:80]}"


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """A real `fer-hub train` output (sepnet, one step on the tiny FER2013 fixture): weights, processor,
    remote code, metrics.json, confusion matrix, recipe.yaml and a checkpoints/ folder. Do not modify it."""
    from pathlib import Path

    from fer_hub.training.train import train

    folder = tmp_path_factory.mktemp("trained") / "sepnet"
    train("sepnet", str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"), folder, max_steps=1)
    return folder


# --- the demo: a launched `fer-hub demo` and image files good and bad -----------------------------


@pytest.fixture(scope="session")
def demo_url():
    """`fer-hub demo` launched in a subprocess on a free port of 127.0.0.1, for the whole session."""
    from demo_process import demo_in_subprocess

    with demo_in_subprocess() as url:
        yield url


@pytest.fixture(scope="session")
def odd_images(tmp_path_factory, astronaut_png) -> dict:
    """Readable images in awkward formats: name -> path (each still shows the astronaut's face)."""
    import numpy as np

    folder = tmp_path_factory.mktemp("odd-images")
    photo = Image.open(astronaut_png).convert("RGB")
    paths = {name: folder / name for name in ("rgba.png", "cmyk.jpg", "gray16.png", "animated.gif", "huge.jpg")}
    photo.convert("RGBA").save(paths["rgba.png"])
    photo.convert("CMYK").save(paths["cmyk.jpg"])
    gray16 = (np.asarray(photo.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(paths["gray16.png"])
    photo.save(paths["animated.gif"], save_all=True, append_images=[Image.new("RGB", photo.size, "blue")], duration=100)
    photo.resize((photo.width * 5, photo.height * 5)).save(paths["huge.jpg"], quality=80)
    return paths


@pytest.fixture(scope="session")
def bad_images(tmp_path_factory, astronaut_png) -> dict:
    """Unusable uploads: name -> (path, a phrase the error message must contain)."""
    import struct
    import zlib

    folder = tmp_path_factory.mktemp("bad-images")
    (folder / "notes.txt").write_text("this is not an image\n")
    (folder / "empty.png").write_bytes(b"")
    jpeg = folder / "full.jpg"
    Image.open(astronaut_png).convert("RGB").save(jpeg)
    (folder / "truncated.jpg").write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 3])
    png = astronaut_png.read_bytes()
    (folder / "truncated.png").write_bytes(png[: len(png) // 3])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    def png_header_only(name: str, side: int) -> None:  # a decompression bomb: a PNG claiming side x side pixels
        header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))

    png_header_only("bomb.png", 30000)  # 900 million pixels: beyond Pillow's own limit
    png_header_only("big.png", 8000)  # 64 million pixels: beyond fer_hub's limit only
    return {
        "notes.txt": (folder / "notes.txt", "not a readable image"),
        "empty.png": (folder / "empty.png", "empty"),
        "truncated.jpg": (folder / "truncated.jpg", "truncated"),
        "truncated.png": (folder / "truncated.png", "truncated"),
        "bomb.png": (folder / "bomb.png", "too large"),
        "big.png": (folder / "big.png", "too large"),
    }
