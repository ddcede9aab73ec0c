"""TEST DOUBLE: a tiny, local stand-in for the Hugging Face Hub HTTP API. For tests only; never a real Hub.

It serves, on 127.0.0.1, the endpoints huggingface_hub 2.x (and datasets, transformers through it) call to
create repos and branches, commit files and download them, for model, dataset and space repos: whoami-v2,
agent-harnesses, repos/create, repos/delete, validate-yaml, preupload, commit (ndjson), branch, repo info,
tree, paths-info, resolve (GET and HEAD) and Space variables; plus Git LFS "basic" uploads (batch, then a PUT)
for *.safetensors and *.parquet, as the Hub's default .gitattributes asks. Xet is not served: set
HF_HUB_DISABLE_XET=1. Other files are committed as regular base64 blobs. A commit applies all of its
operations or none.

State lives in a temporary folder (blobs by sha256 plus one JSON state file per repo) so tests can scan
what was stored. `fail_next("commit")` makes the next commit fail half-way, after reading its operations.
Writes need the configured token; public repos can be read anonymously. Unknown routes answer 404 and are
recorded in `unhandled`, so a test sees when a client needs an endpoint this double lacks.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

USER = "standin-user"
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_PATTERNS = ("*.safetensors", "*.parquet")
GITATTRIBUTES = "".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in LFS_PATTERNS).encode()
LFS_POINTER_SIZE = 134


class HubError(Exception):
    """An HTTP error answered the way the Hub does: status, X-Error-Code and X-Error-Message headers."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None, **body):
        super().__init__(message)
        self.status, self.message, self.code, self.commit, self.body = status, message, code, commit, body

    def response(self) -> JSONResponse:
        headers = {"X-Error-Message": self.message}
        if self.code:
            headers["X-Error-Code"] = self.code
        if self.commit:
            headers["X-Repo-Commit"] = self.commit
        return JSONResponse({"error": self.message, **self.body}, status_code=self.status, headers=headers)


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Repo:
    """One repo's history: commits (oid -> parent, message, files {path: blob info}) and branches (name -> oid)."""

    repo_type: str
    repo_id: str
    private: bool
    sdk: str | None = None
    variables: dict[str, str] = field(default_factory=dict)  # Space variables
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict] = field(default_factory=dict)

    def resolve(self, revision: str) -> str:
        if revision in self.branches:
            return self.branches[revision]
        if revision in self.commits:
            return revision
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def files(self, revision: str) -> dict[str, dict]:
        return self.commits[self.resolve(revision)]["files"]


class HubStandIn:
    """The stand-in server: `start()` returns its endpoint URL, `stop()` shuts it down."""

    def __init__(self, root: Path, token: str):
        self.root, self.token = Path(root), token
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self.endpoint = ""
        self.app = self._build_app()

    # --- control, for tests ------------------------------------------------------------------

    def fail_next(self, operation: str, status: int = 500) -> None:
        """Make the next `operation` ("commit", "preupload", "create") answer `status`."""
        self._failures[operation] = status

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def commit_count(self, repo_id: str, repo_type: str = "model") -> int:
        repo = self.repo(repo_id, repo_type)
        return len(repo.commits) if repo else 0

    def read(self, repo_id: str, path: str, repo_type: str = "model", revision: str = "main") -> bytes:
        return self._blob(self.repos[(repo_type, repo_id)].files(revision)[path]["sha256"])

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Hub stand-in did not start")
            time.sleep(0.02)
        return self.endpoint

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    # --- storage -------------------------------------------------------------------------------

    def _store(self, content: bytes, lfs: bool = False) -> dict:
        digest = hashlib.sha256(content).hexdigest()
        path = self.root / "blobs" / digest
        if not path.exists():
            staging = path.with_suffix(".tmp")
            staging.write_bytes(content)
            os.replace(staging, path)
        return {"sha256": digest, "size": len(content), "oid": git_blob_oid(content), "lfs": lfs}

    def _blob(self, digest: str) -> bytes:
        return (self.root / "blobs" / digest).read_bytes()

    def _save(self, repo: Repo) -> None:
        path = self.root / "repos" / f"{repo.repo_type}s" / f"{repo.repo_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(".tmp")
        staging.write_text(json.dumps(repo.__dict__, indent=1))
        os.replace(staging, path)

    def _commit(self, repo: Repo, branch: str, files: dict[str, dict], message: str) -> str:
        parent = repo.branches.get(branch)
        oid = hashlib.sha1(json.dumps([parent, message, files, time.time_ns()], sort_keys=True).encode()).hexdigest()
        repo.commits[oid] = {"parent": parent, "message": message, "files": files, "date": _now()}
        repo.branches[branch] = oid
        self._save(repo)
        return oid

    # --- request helpers -----------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.token}"

    def _require_write(self, request: Request) -> None:
        if not self._authorised(request):
            raise HubError(401, "Invalid credentials in Authorization header")

    def _get_repo(self, request: Request, plural: str, owner: str, name: str) -> Repo:
        repo = self.repos.get((REPO_TYPES.get(plural, ""), f"{owner}/{name}"))
        if repo is None or (repo.private and not self._authorised(request)):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _maybe_fail(self, operation: str) -> None:
        status = self._failures.pop(operation, None)
        if status is not None:
            raise HubError(status, f"stand-in: injected failure of {operation}")

    def _entry(self, path: str, info: dict) -> dict:
        entry = {"type": "file", "path": path, "size": info["size"], "oid": info["oid"]}
        if info["lfs"]:
            entry["lfs"] = {"oid": info["sha256"], "size": info["size"], "pointerSize": LFS_POINTER_SIZE}
        return entry

    def _listing(self, files: dict[str, dict], folder: str, recursive: bool) -> list[dict]:
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        entries: dict[str, dict] = {}
        for path, info in sorted(files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for depth in range(1, len(parts) if recursive else min(2, len(parts))):
                directory = prefix + "/".join(parts[:depth])
                entries.setdefault(
                    directory, {"type": "directory", "path": directory, "oid": git_blob_oid(directory.encode())}
                )
            if recursive or len(parts) == 1:
                entries[path] = self._entry(path, info)
        return list(entries.values())

    # --- the API -------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Hub stand-in (test double)")
        repo_path = "/api/{plural}/{owner}/{name}"

        @app.middleware("http")
        async def record(request: Request, call_next):
            self.requests.append((request.method, request.url.path))
            return await call_next(request)

        @app.exception_handler(HubError)
        async def translate(request: Request, error: HubError):
            return error.response()

        @app.get("/api/whoami-v2")
        def whoami(request: Request):
            self._require_write(request)
            return {
                "type": "user",
                "name": USER,
                "fullname": "Stand-in User",
                "orgs": [],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}},
            }

        @app.get("/api/agent-harnesses")
        def agent_harnesses():  # huggingface_hub's best-effort user-agent registry: none known here
            return {"standardEnvVars": [], "harnesses": {}}

        @app.post("/api/validate-yaml")
        def validate_yaml():
            return {"errors": [], "warnings": []}

        @app.post("/api/repos/create")
        async def create(request: Request):
            self._require_write(request)
            body = await request.json()
            self._maybe_fail("create")
            repo_type = body.get("type") or "model"
            repo_id = f"{body.get('organization') or USER}/{body['name']}"
            url = f"{self.endpoint}/{URL_PREFIX[repo_type]}{repo_id}"
            with self._lock:
                if (repo_type, repo_id) in self.repos:
                    raise HubError(409, f"You already created this {repo_type} repo", url=url)
                if repo_type == "space" and not body.get("sdk"):
                    raise HubError(400, "a Space needs an sdk")
                repo = Repo(
                    repo_type,
                    repo_id,
                    private=body.get("visibility", "public") == "private" or bool(body.get("private")),
                    sdk=body.get("sdk"),
                )
                self._commit(repo, "main", {".gitattributes": self._store(GITATTRIBUTES)}, "initial commit")
                self.repos[(repo_type, repo_id)] = repo
            return {"url": url, "name": repo_id, "id": repo_id}

        @app.delete("/api/repos/delete")
        async def delete(request: Request):
            self._require_write(request)
            body = await request.json()
            key = (body.get("type") or "model", f"{body.get('organization') or USER}/{body['name']}")
            with self._lock:
                if self.repos.pop(key, None) is None:
                    raise HubError(404, "Repository not found", "RepoNotFound")
                (self.root / "repos" / f"{key[0]}s" / f"{key[1]}.json").unlink()
            return {}

        @app.post(repo_path + "/branch/{branch}")
        async def create_branch(request: Request, plural: str, owner: str, name: str, branch: str):
            self._require_write(request)
            repo = self._get_repo(request, plural, owner, name)
            body = await request.json() if await request.body() else {}
            with self._lock:
                if branch in repo.branches:
                    raise HubError(409, f"Branch {branch} already exists")
                repo.branches[branch] = repo.resolve(body.get("startingPoint") or "main")
                self._save(repo)
            return {}

        @app.delete(repo_path + "/branch/{branch}")
        def delete_branch(request: Request, plural: str, owner: str, name: str, branch: str):
            self._require_write(request)
            repo = self._get_repo(request, plural, owner, name)
            with self._lock:
                if branch == "main" or repo.branches.pop(branch, None) is None:
                    raise HubError(400 if branch == "main" else 404, f"cannot delete branch {branch}")
                self._save(repo)
            return {}

        @app.post("/api/spaces/{owner}/{name}/variables")
        async def add_variable(request: Request, owner: str, name: str):
            self._require_write(request)
            repo = self._get_repo(request, "spaces", owner, name)
            body = await request.json()
            with self._lock:
                repo.variables[body["key"]] = body["value"]
                self._save(repo)
            return {key: {"value": value, "updatedAt": _now()} for key, value in repo.variables.items()}

        @app.post(repo_path + "/preupload/{revision}")
        async def preupload(request: Request, plural: str, owner: str, name: str, revision: str):
            self._require_write(request)
            repo = self._get_repo(request, plural, owner, name)
            self._maybe_fail("preupload")
            existing = repo.files(revision)
            files = (await request.json())["files"]
            return {
                "files": [
                    {
                        "path": f["path"],
                        "uploadMode": "lfs" if _is_lfs(f["path"]) else "regular",
                        "shouldIgnore": False,
                        "oid": _remote_oid(existing[f["path"]]) if f["path"] in existing else None,
                    }
                    for f in files
                ],
                "commitOid": repo.resolve(revision),
            }

        @app.post(repo_path + "/commit/{revision}")
        async def commit(request: Request, plural: str, owner: str, name: str, revision: str):
            self._require_write(request)
            repo = self._get_repo(request, plural, owner, name)
            if request.query_params.get("create_pr"):
                raise HubError(400, "stand-in: pull requests are not supported")
            lines = [json.loads(line) for line in (await request.body()).splitlines() if line.strip()]
            header = next((line["value"] for line in lines if line["key"] == "header"), {})
            with self._lock:
                head = repo.resolve(revision)
                if revision not in repo.branches:
                    raise HubError(400, f"stand-in: can only commit to a branch, not {revision}")
                if header.get("parentCommit") and header["parentCommit"] != head:
                    raise HubError(412, "A commit has happened since. Please refresh and try again.")
                staged: dict[str, dict | bytes] = dict(repo.commits[head]["files"])  # a copy: all or nothing
                for number, line in enumerate(lines):
                    if number == len(lines) // 2:
                        self._maybe_fail("commit")  # half-way through the operations
                    self._apply(staged, line)
                files = {path: self._store(v) if isinstance(v, bytes) else v for path, v in staged.items()}
                oid = self._commit(repo, revision, files, header.get("summary", ""))
            return {
                "success": True,
                "commitOid": oid,
                "pullRequestUrl": None,
                "commitUrl": f"{self.endpoint}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{oid}",
            }

        @app.get(repo_path)
        @app.get(repo_path + "/revision/{revision}")
        def info(request: Request, plural: str, owner: str, name: str, revision: str = "main"):
            repo = self._get_repo(request, plural, owner, name)
            oid = repo.resolve(revision)
            files = repo.commits[oid]["files"]
            body = {
                "id": repo.repo_id,
                "_id": repo.repo_id,
                "author": owner,
                "sha": oid,
                "private": repo.private,
                "disabled": False,
                "gated": False,
                "lastModified": repo.commits[oid]["date"],
                "createdAt": repo.commits[oid]["date"],
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": [{"rfilename": path, "size": entry["size"]} for path, entry in sorted(files.items())],
            }
            if repo.repo_type == "space":
                body.update(
                    sdk=repo.sdk, runtime={"stage": "BUILDING", "hardware": {"current": None, "requested": None}}
                )
            return body

        @app.get(repo_path + "/tree/{revision}")
        @app.get(repo_path + "/tree/{revision}/{path:path}")
        def tree(request: Request, plural: str, owner: str, name: str, revision: str, path: str = ""):
            repo = self._get_repo(request, plural, owner, name)
            files = repo.files(revision)
            recursive = request.query_params.get("recursive", "").lower() in ("1", "true")
            if path and path not in files and not any(p.startswith(path.rstrip("/") + "/") for p in files):
                raise HubError(404, f"{path} does not exist", "EntryNotFound", repo.resolve(revision))
            return self._listing(files, path, recursive)

        @app.post(repo_path + "/paths-info/{revision}")
        async def paths_info(request: Request, plural: str, owner: str, name: str, revision: str):
            repo = self._get_repo(request, plural, owner, name)
            files = repo.files(revision)
            paths = parse_qs((await request.body()).decode()).get("paths", [])
            return [entry for entry in self._listing(files, "", recursive=True) if entry["path"] in paths]

        def resolve(request: Request, repo: Repo, revision: str, path: str) -> Response:
            oid = repo.resolve(revision)
            info = repo.commits[oid]["files"].get(path)
            if info is None:
                raise HubError(404, "Entry not found", "EntryNotFound", oid)
            headers = {"ETag": f'"{_remote_oid(info)}"', "X-Repo-Commit": oid, "Content-Length": str(info["size"])}
            if request.method == "HEAD":
                return Response(headers=headers)
            return Response(self._blob(info["sha256"]), headers=headers, media_type="application/octet-stream")

        async def lfs_batch(request: Request, owner: str, name: str, plural: str):
            self._require_write(request)
            self._get_repo(request, plural, owner, name)
            objects = (await request.json())["objects"]
            return {
                "transfer": "basic",
                "objects": [
                    {"oid": o["oid"], "size": o["size"]}
                    if (self.root / "blobs" / o["oid"]).is_file()
                    else {
                        "oid": o["oid"],
                        "size": o["size"],
                        "actions": {"upload": {"href": f"{self.endpoint}/_lfs/{o['oid']}"}},
                    }
                    for o in objects
                ],
            }

        for prefix, plural in (("/datasets", "datasets"), ("/spaces", "spaces"), ("", "models")):

            def handler(request: Request, owner: str, name: str, revision: str, path: str, plural: str = plural):
                return resolve(request, self._get_repo(request, plural, owner, name), revision, path)

            async def batch(request: Request, owner: str, name: str, plural: str = plural):
                return await lfs_batch(request, owner, name, plural)

            app.add_api_route(
                prefix + "/{owner}/{name}/resolve/{revision}/{path:path}", handler, methods=["GET", "HEAD"]
            )
            app.add_api_route(prefix + "/{owner}/{name}.git/info/lfs/objects/batch", batch, methods=["POST"])

        @app.put("/_lfs/{sha256}")
        async def lfs_upload(request: Request, sha256: str):  # where a real Hub's presigned storage URL points
            content = await request.body()
            if hashlib.sha256(content).hexdigest() != sha256:
                raise HubError(400, "LFS object does not match its sha256")
            self._store(content, lfs=True)
            return {}

        @app.api_route("/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"])
        def unhandled(request: Request, rest: str):
            self.unhandled.append((request.method, request.url.path))
            raise HubError(404, f"stand-in: {request.method} /{rest} is not implemented")

        return app

    def _apply(self, files: dict[str, dict | bytes], line: dict) -> None:
        key, value = line["key"], line["value"]
        if key == "file":
            files[value["path"]] = base64.b64decode(value["content"])
        elif key == "lfsFile":
            blob = self.root / "blobs" / value["oid"]
            if not blob.is_file():
                raise HubError(400, f"LFS object {value['oid']} was not uploaded")
            files[value["path"]] = self._store(blob.read_bytes(), lfs=True)
        elif key == "deletedFile":
            if files.pop(value["path"], None) is None:
                raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
        elif key == "deletedFolder":
            for path in [p for p in files if p.startswith(value["path"].rstrip("/") + "/")]:
                del files[path]
        elif key != "header":
            raise HubError(400, f"stand-in: unsupported commit operation {key!r}")


def _is_lfs(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in LFS_PATTERNS)


def _remote_oid(info: dict) -> str:
    """What the Hub reports as a file's oid: sha256 for LFS files, the git blob sha1 otherwise."""
    return info["sha256"] if info["lfs"] else info["oid"]


def start_standin(root: Path, token: str) -> HubStandIn:
    """A started stand-in storing its state under `root`."""
    standin = HubStandIn(root, token)
    standin.start()
    return standin
