"""Calling a running demo's `/predict` over plain HTTP, as `curl` would, through gradio's REST routes: upload the
image, start the call, read its result event. The same endpoint `gradio_client` calls, with less client overhead
(gradio_client polls its event stream every 50 ms)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ..errors import FerHubError
from ..models.pretrained import DEFAULT_MODEL


def predict_over_http(
    url: str,
    image: str | Path,
    model: str = DEFAULT_MODEL,
    tta: bool = False,
    whole_image: bool = False,
    boxes: list[list[float]] | None = None,
    client: httpx.Client | None = None,
    timeout: float = 60.0,
) -> dict:
    """The `/predict` answer for one image file: {"faces": [{"box", "label", "scores"}], "message"}. `boxes`
    ([x, y, w, h] in the file's pixels): classify these faces instead of detecting."""
    image = Path(image)
    http = client or httpx.Client(timeout=timeout)
    api = url.rstrip("/") + "/gradio_api"
    try:
        with image.open("rb") as file:
            uploaded = http.post(f"{api}/upload", files={"files": (image.name, file)})
        uploaded.raise_for_status()
        file_data = {"path": uploaded.json()[0], "orig_name": image.name, "meta": {"_type": "gradio.FileData"}}
        started = http.post(f"{api}/call/predict", json={"data": [file_data, model, tta, whole_image, boxes]})
        started.raise_for_status()
        events = http.get(f"{api}/call/predict/{started.json()['event_id']}")
        events.raise_for_status()
    except (OSError, httpx.HTTPError) as error:
        raise FerHubError(f"{url}: /predict failed for {image}: {error}") from None
    finally:
        if client is None:
            http.close()
    return _complete_event(events.text, url)


def _complete_event(stream: str, url: str) -> dict:
    """The payload of the `complete` event of a server-sent event stream."""
    event = None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:") and event == "complete":
            return json.loads(line.partition(":")[2])[0]
    raise FerHubError(f"{url}: /predict gave no result (last event: {event or 'none'})")
