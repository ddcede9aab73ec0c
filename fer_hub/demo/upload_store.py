"""The demo's uploads and the files it sends back, in one temporary folder the demo owns, with bounded disk use.

Gradio keeps every upload (and every image or clip it returns) as a file. Here they all go into one folder made
for the process (GRADIO_TEMP_DIR and, while serving, Python's temporary folder point into it), where:
- files older than MAX_AGE_SECONDS are removed (swept every SWEEP_SECONDS and after every upload);
- beyond MAX_BYTES in all, the oldest files are removed first (also right after every upload);
- the whole folder is removed when the demo stops (Ctrl-C, SIGTERM or a normal exit).
The environment variables FER_HUB_UPLOAD_MAX_AGE_S and FER_HUB_UPLOAD_MAX_MB change the two limits.
Files already there when serving starts (the examples gradio copies in while the app is built) are kept.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
from PIL import Image
from starlette.middleware import Middleware

MAX_AGE_SECONDS = 15 * 60  # long enough to change the model or flip the checkbox on the same upload
MAX_BYTES = 512 << 20  # 20 uploads at the 25 MB limit, or thousands of photos
MAX_AGE_VARIABLE, MAX_MB_VARIABLE = "FER_HUB_UPLOAD_MAX_AGE_S", "FER_HUB_UPLOAD_MAX_MB"  # operators' overrides
SWEEP_SECONDS = 30
EMPTY_FOLDER_GRACE_SECONDS = 60  # gradio makes a folder per upload, then moves the file in: leave fresh ones


class UploadFolder:
    """A folder of short-lived files kept within an age and a total-size limit, removed when closed."""

    def __init__(self, root: Path, max_bytes: int = MAX_BYTES, max_age_seconds: float = MAX_AGE_SECONDS):
        self.root = root
        self.max_bytes = max_bytes
        self.max_age_seconds = max_age_seconds
        self.kept: frozenset[Path] = frozenset()
        self._lock = threading.Lock()

    @property
    def gradio_dir(self) -> Path:
        return self.root / "gradio"

    @property
    def temp_dir(self) -> Path:
        return self.root / "tmp"

    def new_jpeg(self, image: Image.Image) -> str:
        """`image` saved as a new JPEG file here, for an image output. Given a PIL image, gradio saves it at a path
        named after its bytes and rewrites that file in place whenever the same image comes again (a still webcam,
        two visitors on one example), truncating it while a browser may still be reading it: a broken image. A new
        file per result (which gradio copies under a new name) is never rewritten."""
        with tempfile.NamedTemporaryFile(dir=self.temp_dir, prefix="faces-", suffix=".jpeg", delete=False) as file:
            image.save(file, format="JPEG")
        return file.name

    def keep_current_files(self) -> None:
        """Never sweep the files there now (the examples of the built app)."""
        self.kept = frozenset(path for path, _ in self._files())

    def _files(self) -> list[tuple[Path, os.stat_result]]:
        found = []
        for folder, _, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    info = path.lstat()
                    if stat.S_ISREG(info.st_mode):
                        found.append((path, info))
        return found

    def size(self) -> int:
        """Bytes in the folder's files."""
        return sum(info.st_size for _, info in self._files())

    def sweep(self) -> None:
        """Remove files past the age limit, then the oldest files while the total exceeds the size limit."""
        with self._lock:
            now = time.time()
            files = sorted(
                ((info.st_mtime, info.st_size, path) for path, info in self._files() if path not in self.kept),
                key=lambda entry: entry[0],
            )
            total = sum(size for _, size, _ in files)
            for modified, size, path in files:
                if now - modified <= self.max_age_seconds and total <= self.max_bytes:
                    break
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                total -= size
            self._remove_empty_folders(now)

    def _remove_empty_folders(self, now: float) -> None:
        for folder, subfolders, names in os.walk(self.root, topdown=False):
            path = Path(folder)
            if path == self.root or names or subfolders or path in (self.gradio_dir, self.temp_dir):
                continue
            with contextlib.suppress(OSError):  # gone, refilled, or not empty after all
                if now - path.stat().st_mtime > EMPTY_FOLDER_GRACE_SECONDS:
                    path.rmdir()

    @contextlib.contextmanager
    def sweeping(self, every_seconds: float = SWEEP_SECONDS) -> Iterator[None]:
        """Sweep every `every_seconds` in a background thread while the block runs."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every_seconds):
                self.sweep()

        thread = threading.Thread(target=run, name="fer-hub-upload-sweeper", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def middleware(self) -> Middleware:
        """For the app's `middleware` list: a sweep after every upload."""
        return Middleware(SweepAfterUploads, folder=self)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class SweepAfterUploads:
    """ASGI middleware: sweeps the folder once each upload request has been answered."""

    def __init__(self, app, folder: UploadFolder):
        self.app = app
        self.folder = folder

    async def __call__(self, scope, receive, send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope.get("method") == "POST" and scope["path"].rstrip("/").endswith("/upload"):
            await anyio.to_thread.run_sync(self.folder.sweep)


_FOLDER: UploadFolder | None = None


def demo_uploads() -> UploadFolder:
    """The process's upload folder, made on first use (before the app's components, which read GRADIO_TEMP_DIR
    when built), and removed at exit."""
    global _FOLDER
    if _FOLDER is None:
        root = Path(tempfile.mkdtemp(prefix="fer-hub-demo-", dir=os.environ.get("GRADIO_TEMP_DIR")))
        _FOLDER = UploadFolder(
            root,
            max_bytes=int(float(os.environ.get(MAX_MB_VARIABLE, MAX_BYTES / 2**20)) * 2**20),
            max_age_seconds=float(os.environ.get(MAX_AGE_VARIABLE, MAX_AGE_SECONDS)),
        )
        _FOLDER.gradio_dir.mkdir()
        _FOLDER.temp_dir.mkdir()
        os.environ["GRADIO_TEMP_DIR"] = str(_FOLDER.gradio_dir)
        atexit.register(_FOLDER.remove)
    return _FOLDER


@contextlib.contextmanager
def serving(folder: UploadFolder) -> Iterator[None]:
    """While the demo serves: files of the built app kept, sweeping on, Python's temporary files inside the folder,
    SIGTERM stopping the server like Ctrl-C; afterwards, the folder removed."""
    folder.keep_current_files()
    previous_tempdir = tempfile.tempdir
    tempfile.tempdir = str(folder.temp_dir)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        with folder.sweeping():
            yield
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_handler)
        tempfile.tempdir = previous_tempdir
        folder.remove()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
