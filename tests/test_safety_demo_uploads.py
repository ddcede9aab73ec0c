"""Demo uploads do not pile up: swept by age and total size (after every upload and on a timer), the built app's
own files kept, everything gone at shutdown; and under sustained load the server's memory stays flat."""

from __future__ import annotations

import io
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from demo_process import demo_in_subprocess
from PIL import Image

from fer_hub.demo.http_api import predict_over_http
from fer_hub.demo.upload_store import EMPTY_FOLDER_GRACE_SECONDS, UploadFolder


def _file(folder: Path, name: str, size: int, age_seconds: float = 0.0) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_sweep_removes_files_past_the_age_limit(tmp_path):
    uploads = UploadFolder(tmp_path, max_bytes=10**9, max_age_seconds=60)
    old = _file(tmp_path, "gradio/aaa/old.png", 10, age_seconds=120)
    fresh = _file(tmp_path, "gradio/bbb/fresh.png", 10, age_seconds=5)
    uploads.sweep()
    assert not old.exists() and fresh.exists()


def test_sweep_keeps_the_total_under_the_size_limit_oldest_first(tmp_path):
    uploads = UploadFolder(tmp_path, max_bytes=250, max_age_seconds=3600)
    files = [_file(tmp_path, f"gradio/{index}/upload.png", 100, age_seconds=100 - index) for index in range(5)]
    uploads.sweep()
    assert [path.exists() for path in files] == [False, False, False, True, True]
    assert uploads.size() <= 250


def test_files_of_the_built_app_are_kept(tmp_path):
    example = _file(tmp_path, "gradio/ex/astronaut.jpg", 100, age_seconds=10**6)
    uploads = UploadFolder(tmp_path, max_bytes=50, max_age_seconds=60)
    uploads.keep_current_files()
    upload = _file(tmp_path, "gradio/up/photo.png", 100, age_seconds=120)
    uploads.sweep()
    assert example.exists() and not upload.exists()


def test_emptied_upload_folders_go_after_a_grace_period(tmp_path):
    uploads = UploadFolder(tmp_path, max_bytes=10**9, max_age_seconds=60)
    stale, fresh = tmp_path / "gradio" / "stale", tmp_path / "gradio" / "fresh"
    stale.mkdir(parents=True)
    fresh.mkdir()
    old = time.time() - EMPTY_FOLDER_GRACE_SECONDS - 10
    os.utime(stale, (old, old))
    uploads.sweep()
    assert not stale.exists() and fresh.exists() and (tmp_path / "gradio").exists()


def test_remove_deletes_the_folder(tmp_path):
    uploads = UploadFolder(tmp_path / "demo")
    _file(tmp_path / "demo", "gradio/a/b.png", 10)
    uploads.remove()
    assert not (tmp_path / "demo").exists()


# --- a running `fer-hub demo` -------------------------------------------------------------------


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _child_pids() -> set[int]:
    return {int(pid) for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()}


def _rss_mb(pid: int) -> float:
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.slow
def test_uploads_without_predict_stay_bounded_and_are_gone_at_shutdown(tmp_path):
    root = tmp_path / "gradio-root"
    root.mkdir()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(root), "FER_HUB_UPLOAD_MAX_MB": "2"}
    with demo_in_subprocess(env=env) as url:
        (demo_folder,) = root.glob("fer-hub-demo-*")
        at_start = _size(demo_folder)  # the examples, copied in while the app was built
        with httpx.Client(timeout=120) as client:
            for seed in range(100):  # 100 distinct uploads of ~120 KB, no predict call: 12 MB without the limit
                answer = client.post(f"{url}gradio_api/upload", files={"files": (f"u{seed}.png", _png(seed))})
                answer.raise_for_status()
        time.sleep(1)
        assert _size(demo_folder) <= at_start + (2 << 20)
    assert not demo_folder.exists()


@pytest.mark.slow
def test_soak_six_load_runs_with_flat_memory(tmp_path):
    """Six load runs of 16 clients x 20 /predict calls over HTTP: no errors, and the server's resident memory after
    the sixth within 100 MB of that after the first."""
    photo = tmp_path / "one_face_640x480.jpg"
    source = Path(__file__).parents[1] / "fer_hub" / "space" / "examples" / "astronaut.jpg"
    Image.open(source).convert("RGB").resize((640, 640)).crop((0, 0, 640, 480)).save(photo, quality=90)
    before = _child_pids()
    with demo_in_subprocess() as url:
        (server,) = _child_pids() - before

        def client_session(_) -> int:
            errors = 0
            with httpx.Client(timeout=300) as client:
                for _ in range(20):
                    try:
                        result = predict_over_http(url, photo, client=client)
                        errors += bool(result.get("error")) or len(result["faces"]) != 1
                    except Exception:  # a refused or failed request counts as an error
                        errors += 1
            return errors

        resident, errors = [], []
        for _ in range(6):
            with ThreadPoolExecutor(16) as pool:
                errors.append(sum(pool.map(client_session, range(16))))
            resident.append(_rss_mb(server))
    assert errors == [0] * 6
    assert resident[-1] - resident[0] <= 100, f"resident MB after each run: {[round(mb) for mb in resident]}"


# --- /predict arguments: limits and types checked before the image is read ---------------------------


@pytest.fixture(scope="module")
def demo_handlers():
    from fer_hub.demo.app import FerDemo

    return FerDemo()


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    path.write_bytes(_png(0))
    return {"path": str(path), "orig_name": "photo.png"}


def test_ten_thousand_boxes_are_refused_up_front(demo_handlers, photo_file, monkeypatch):
    from fer_hub.demo import app
    from fer_hub.inference.faces import MAX_BOXES_PER_IMAGE

    monkeypatch.setattr(app, "read_image", pytest.fail)  # refused before the image is even read
    result = demo_handlers.predict(photo_file, demo_handlers.models[0], boxes=[[0, 0, 10, 10]] * 10_000)
    assert result == {
        "faces": [],
        "message": f"boxes: 10,000 face boxes given, over the limit of {MAX_BOXES_PER_IMAGE} per image",
        "error": True,
    }


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"tta": "yes"}, "tta: expected true or false, not 'yes'"),
        ({"whole_image": 1}, "whole_image: expected true or false, not 1"),
        ({"boxes": "0,0,10,10"}, "boxes: expected a list of [x, y, width, height] boxes, not str"),
    ],
)
def test_api_arguments_must_have_their_types(arguments, message, demo_handlers, photo_file):
    result = demo_handlers.predict(photo_file, demo_handlers.models[0], **arguments)
    assert result["error"] is True and result["message"] == message


def test_boxes_at_the_limit_are_served(demo_handlers, photo_file):
    from fer_hub.inference.faces import MAX_BOXES_PER_IMAGE

    result = demo_handlers.predict(photo_file, demo_handlers.models[0], boxes=[[0, 0, 20, 20]] * MAX_BOXES_PER_IMAGE)
    assert "error" not in result and len(result["faces"]) == MAX_BOXES_PER_IMAGE


@pytest.mark.slow
def test_a_10000_box_request_is_refused_and_memory_stays_near_its_start(tmp_path):
    """The issue's done-when: the server's resident memory within 500 MB of its start across a 10,000-box request
    (it was 4.8 -> 11.1 GB); and a path that was not uploaded is answered with a message, not {"error": null}."""
    photo = tmp_path / "photo.png"
    photo.write_bytes(_png(1))
    before = _child_pids()
    with demo_in_subprocess() as url:
        (server,) = _child_pids() - before
        at_start = _rss_mb(server)
        with httpx.Client(timeout=300) as client:
            result = predict_over_http(url, photo, boxes=[[0, 0, 10, 10]] * 10_000, client=client)
            assert result["error"] is True and "10,000 face boxes given, over the limit of 100" in result["message"]
            assert _rss_mb(server) - at_start <= 500
            api = f"{url}gradio_api/call/predict"
            not_uploaded = {"path": "/etc/hostname", "meta": {"_type": "gradio.FileData"}}
            started = client.post(api, json={"data": [not_uploaded, "sepnet.ferplus", False, False, None]})
            events = client.get(f"{api}/{started.json()['event_id']}").text
    assert "event: error" in events and "not a file uploaded to this demo" in events, events
