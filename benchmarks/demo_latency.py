"""Latency of the demo's `/predict` API for a one-face 640x480 photo, called two ways: over plain HTTP
(`fer_hub.demo.http_api`, gradio's REST routes as curl uses them) and through `gradio_client`.

1. single client: median and p95 of sequential requests (upload + queue + detection + classification + JSON);
2. load: CLIENTS concurrent clients x REQUESTS requests each: errors, p50, p95, throughput.
The in-process pipeline (read_image + recognize, no HTTP) and the same endpoint refusing at once (an unknown
model: upload, queue and decode only) are timed too, to split the latency between the model and the web stack.

    python benchmarks/demo_latency.py                 # launches `fer-hub demo` on a free local port
    python benchmarks/demo_latency.py --url http://127.0.0.1:7860/ --note "..."

Writes benchmarks/results/demo_latency.json and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from results_io import write_report

from fer_hub.demo.http_api import predict_over_http

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' launcher of `fer-hub demo` in a child process
from demo_process import demo_in_subprocess  # noqa: E402

PHOTO_SOURCE = ROOT / "fer_hub" / "space" / "examples" / "astronaut.jpg"
RESULTS = Path(__file__).resolve().parent / "results"


def one_face_photo(folder: Path) -> Path:
    """A 640x480 JPEG with one face: the astronaut at 640x640, top 480 rows."""
    path = folder / "one_face_640x480.jpg"
    Image.open(PHOTO_SOURCE).convert("RGB").resize((640, 640), Image.Resampling.LANCZOS).crop((0, 0, 640, 480)).save(
        path, quality=90
    )
    return path


def percentiles(seconds: list[float]) -> dict:
    milliseconds = np.asarray(seconds) * 1000
    return {
        "n": len(seconds),
        "median_ms": round(float(np.median(milliseconds)), 1),
        "p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
        "min_ms": round(float(milliseconds.min()), 1),
        "max_ms": round(float(milliseconds.max()), 1),
    }


class GradioClientCaller:
    name = "gradio_client"

    def __init__(self, url: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False)

    def __call__(self, photo: Path, model: str) -> dict:
        from gradio_client import handle_file

        return self.client.predict(handle_file(str(photo)), model=model, api_name="/predict")


class HttpCaller:
    name = "plain HTTP"

    def __init__(self, url: str):
        self.url, self.client = url, httpx.Client(timeout=120)

    def __call__(self, photo: Path, model: str) -> dict:
        return predict_over_http(self.url, photo, model=model, client=self.client)


CALLERS = {"http": HttpCaller, "gradio_client": GradioClientCaller}


def timed_predict(caller, photo: Path, model: str = "sepnet.ferplus") -> tuple[float, dict | None]:
    """Seconds for one /predict call and its answer (None when the request failed)."""
    start = time.perf_counter()
    try:
        result = caller(photo, model)
    except Exception:  # a refused or failed request is what the runs count as an error
        result = None
    return time.perf_counter() - start, result


def one_face(result: dict | None) -> bool:
    return bool(result) and not result.get("error") and len(result["faces"]) == 1


def refused(result: dict | None) -> bool:
    return bool(result) and "unknown model" in result.get("message", "")


def sequential(caller, photo: Path, requests: int, model: str = "sepnet.ferplus", expected=one_face) -> dict:
    """One client, one request at a time, after a few warm-up requests."""
    for _ in range(5):
        timed_predict(caller, photo, model)
    runs = [timed_predict(caller, photo, model) for _ in range(requests)]
    return {**percentiles([seconds for seconds, _ in runs]), "errors": sum(not expected(result) for _, result in runs)}


def load_run(url: str, photo: Path, clients: int, requests: int, caller_class) -> dict:
    connected = [caller_class(url) for _ in range(clients)]

    def session(client) -> list[tuple[float, dict | None]]:
        return [timed_predict(client, photo) for _ in range(requests)]

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        runs = [run for runs in pool.map(session, connected) for run in runs]
    wall = time.perf_counter() - start
    return {
        "clients": clients,
        "requests_per_client": requests,
        **percentiles([seconds for seconds, _ in runs]),
        "errors": sum(not one_face(result) for _, result in runs),
        "wall_s": round(wall, 1),
        "throughput_rps": round(len(runs) / wall, 1),
    }


def in_process(photo: Path, requests: int) -> dict:
    """The server's work per request, without HTTP, on one torch thread as `fer_hub.demo.app.serve` sets."""
    import torch

    from fer_hub.data.image_io import read_image
    from fer_hub.inference.recognizer import get_recognizer

    torch.set_num_threads(1)
    recognizer = get_recognizer()
    recognizer.recognize(read_image(photo).image)
    seconds = []
    for _ in range(requests):
        start = time.perf_counter()
        recognizer.recognize(read_image(photo).image)
        seconds.append(time.perf_counter() - start)
    return percentiles(seconds)


def markdown(report: dict) -> str:
    local = report["in_process"]
    rows = []
    for key, caller in CALLERS.items():
        single, floor, load = (report[key][run] for run in ("single_client", "refused_at_once", "load"))
        rows += [
            f"| single client, {caller.name} | {single['n']} | {single['median_ms']} | {single['p95_ms']} | {single['errors']} | |",
            f"| {load['clients']} clients x {load['requests_per_client']}, {caller.name} | {load['n']} | {load['median_ms']} | "
            f"{load['p95_ms']} | {load['errors']} | {load['throughput_rps']} req/s |",
            f"| refused at once (unknown model: upload + queue + decode only), {caller.name} | {floor['n']} | "
            f"{floor['median_ms']} | {floor['p95_ms']} | {floor['errors']} | |",
        ]
    return "\n".join(
        [
            "# Demo `/predict` latency",
            "",
            f"Machine: {report['machine']['cpus']} CPUs ({report['machine']['processor']}), load average "
            f"{report['machine']['load_average_at_start']} at start. {report['note']}".rstrip(),
            "Photo: one face, 640x480 JPEG. Target: single-client median <= 100 ms.",
            "",
            "| run | requests | median ms | p95 ms | errors | throughput |",
            "|---|---|---|---|---|---|",
            *rows,
            f"| in process, no HTTP (read + detect + classify) | {local['n']} | {local['median_ms']} | {local['p95_ms']} | | |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running demo (default: launch one locally)")
    parser.add_argument("--requests", type=int, default=50, help="single-client requests")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--load-requests", type=int, default=20, help="requests per client in the load run")
    parser.add_argument("--note", default="", help="conditions worth recording (e.g. other jobs running)")
    parser.add_argument("--output", type=Path, default=RESULTS / "demo_latency.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        photo = one_face_photo(Path(folder))
        report = {
            "machine": {
                "cpus": os.cpu_count(),
                "processor": platform.processor() or platform.machine(),
                "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
            },
            "note": args.note,
            "in_process": in_process(photo, args.requests),
        }
        with demo_in_subprocess() if args.url is None else nullcontext(args.url) as url:
            for key, caller_class in CALLERS.items():
                caller = caller_class(url)
                report[key] = {
                    "single_client": sequential(caller, photo, args.requests),
                    "refused_at_once": sequential(caller, photo, args.requests, model="-", expected=refused),
                    "load": load_run(url, photo, args.clients, args.load_requests, caller_class),
                }
    write_report(report, args.output, markdown)
    print(markdown(report))


if __name__ == "__main__":
    main()
