"""`fer-hub push` and `fer-hub push-space`: publish a trained model folder (weights, processor, remote code and a
generated model card) or the Gradio demo Space to the Hugging Face Hub, each as one commit.

The token comes from the standard places (HF_TOKEN, then the cached `hf auth login`); HF_ENDPOINT is honoured.
Folders are checked before any network call, and the token never appears in a message or a written file.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
from collections.abc import Iterator
from pathlib import Path

import yaml
from httpx2 import TransportError
from huggingface_hub import CommitOperationAdd, HfApi, SpaceCard, get_token, metadata_load
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError
from transformers.dynamic_module_utils import get_relative_imports

from ..checks import check_repo_id, is_repo_id
from ..errors import FerHubError
from ..models.pretrained import DEFAULT_MODEL, PRETRAINED, local_model_folder
from .model_card import read_json, read_metrics, render_model_card
from .pickle_scan import is_pickled

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SPACE_DIR = PACKAGE_DIR / "space"  # the Space's own files: app.py, README front matter, examples
SPACE_MODELS_VARIABLE = "FER_HUB_MODELS"  # Hub model ids, space-separated, read by the Space's app.py
SHORT_DESCRIPTION_MAX = 60  # characters the Hub accepts in a Space's short_description
NEVER_UPLOADED = (".*", "*/.*", "*/__pycache__/*", "__pycache__/*", "*.pyc")
MODEL_EXCLUDED = (
    "checkpoints/*",  # Trainer checkpoints: pickled optimizer and RNG states
    "README.md",  # replaced by the card generated from metrics.json at push time
)  # and every file holding pickled data, whatever its name (pickle_scan): the weights are model.safetensors
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"


# --- what gets uploaded ------------------------------------------------------------------------


def _files(folder: Path, excluded: tuple[str, ...]) -> list[str]:
    """Paths (POSIX, relative to `folder`) of the files under it that match none of `excluded` and hold no
    pickled data (judged by content; each one left out is named in a warning)."""
    patterns = NEVER_UPLOADED + excluded
    paths = (path.relative_to(folder).as_posix() for path in sorted(folder.rglob("*")) if path.is_file())
    kept = [path for path in paths if not any(fnmatch.fnmatch(path, pattern) for pattern in patterns)]
    pickled = [path for path in kept if is_pickled(folder / path)]
    if pickled:
        logger.warning("warning: not uploading %s: pickled data (or data that cannot be inspected)", ", ".join(pickled))
    return [path for path in kept if path not in pickled]


def _code_files(folder: Path, config_name: str, config: dict) -> list[str]:
    """The .py files a `trust_remote_code` user needs for `config`'s auto_map, with their relative imports."""
    references = []
    for value in (config.get("auto_map") or {}).values():
        references += value if isinstance(value, (list, tuple)) else [value]
    pending = [f"{reference.split('.')[0]}.py" for reference in references if reference and "--" not in reference]
    needed: list[str] = []
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.append(name)
        if (folder / name).is_file():
            pending += [f"{module}.py" for module in get_relative_imports(folder / name)]
    return [f"{name} (code named in {config_name} auto_map)" for name in needed if not (folder / name).is_file()]


def _missing_weights(folder: Path) -> list[str]:
    if (folder / WEIGHTS).is_file():
        return []
    if (folder / WEIGHTS_INDEX).is_file():
        shards = set(read_json(folder / WEIGHTS_INDEX).get("weight_map", {}).values())
        return [f"{shard} (weights shard)" for shard in sorted(shards) if not (folder / shard).is_file()]
    return [f"{WEIGHTS} (the weights)"]


def model_upload_files(model_dir: str | Path) -> list[str]:
    """The files of a trained folder that `push` uploads; a FerHubError naming everything a Hub user would miss."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise FerHubError(f"{folder}: no such folder")
    missing = _missing_weights(folder)
    for name in ("config.json", "preprocessor_config.json"):
        if (folder / name).is_file():
            missing += _code_files(folder, name, read_json(folder / name))
        else:
            missing.append(name)
    if missing:
        raise FerHubError(
            f"{folder}: not a complete model folder, refusing to publish; missing {', '.join(missing)}. "
            "`fer-hub train` writes complete folders."
        )
    return _files(folder, MODEL_EXCLUDED)


def check_space_folder(space_dir: Path) -> dict:
    """The Space README's front matter, checked for what the Hub needs to build a Gradio Space."""
    readme = space_dir / "README.md"
    if not readme.is_file():
        raise FerHubError(f"{space_dir}: no README.md with the Space's front matter")
    try:
        metadata = metadata_load(readme) or {}
    except yaml.YAMLError as error:
        raise FerHubError(f"{readme}: the front matter is not valid YAML ({error})".replace("\n", " ")) from None
    problems = [
        message
        for ok, message in (
            (metadata.get("sdk") == "gradio", f"sdk is {metadata.get('sdk')!r}, expected 'gradio'"),
            (bool(metadata.get("sdk_version")), "no pinned sdk_version"),
            (bool(metadata.get("app_file")), "no app_file"),
            ((space_dir / str(metadata.get("app_file"))).is_file(), f"app_file {metadata.get('app_file')!r} not found"),
            ((space_dir / "requirements.txt").is_file(), "no requirements.txt beside it"),
            (
                len(str(metadata.get("short_description", ""))) <= SHORT_DESCRIPTION_MAX,
                f"short_description longer than {SHORT_DESCRIPTION_MAX} characters",
            ),
        )
        if not ok
    ]
    if problems:
        raise FerHubError(f"{readme}: not a publishable Gradio Space: {'; '.join(problems)}")
    return metadata


def space_models(models: list[str]) -> list[str]:
    """The Hub repos a Space serves: the embedded default's published repo, then `models`."""
    return list(dict.fromkeys([PRETRAINED[DEFAULT_MODEL].hub_id, *models]))


def space_readme(space_dir: Path, models: list[str]) -> bytes:
    """The Space's README.md whose front matter's `models` (which links them on the Hub) names the embedded default's
    published repo and `models` (Hub ids)."""
    card = SpaceCard.load(space_dir / "README.md")
    card.data.models = space_models(models)
    return str(card).encode()


def space_files(models: list[str] | None = None, space_dir: str | Path = SPACE_DIR) -> dict[str, bytes]:
    """The Space's own files as `push_space` uploads them (path in the Space -> bytes), the fer_hub package aside:
    app.py, README.md (its `models` set from `models` unless None), requirements.txt and the examples."""
    space_dir = Path(space_dir)
    check_space_folder(space_dir)
    _check_space_models(models or [])
    files = {path: (space_dir / path).read_bytes() for path in _files(space_dir, ())}
    if models is not None:
        files["README.md"] = space_readme(space_dir, models)
    return files


def _check_space_models(models: list[str]) -> None:
    """A Space cannot read local folders: only Hub model ids (see `space_model_ids` for trained models' names)."""
    for model in models:
        if Path(model).exists() or not is_repo_id(model):
            raise FerHubError(
                f"{model}: a Space can only load Hub models; push it first with `fer-hub push` and pass its repo id"
            )


# --- the Hub -----------------------------------------------------------------------------------


def _require_token(repo_id: str) -> str:
    check_repo_id(repo_id)
    token = get_token()
    if not token:
        raise FerHubError("not logged in to the Hub: run `hf auth login` or set HF_TOKEN to a token with write access")
    return token


@contextlib.contextmanager
def _hub_errors(api: HfApi, repo_id: str, token: str, outcome: str = "nothing was published") -> Iterator[None]:
    """Turn huggingface_hub and network errors into FerHubErrors that say what to do and what `outcome` the
    failure had; never with the token."""
    try:
        yield
    except RevisionNotFoundError:
        raise FerHubError(f"{repo_id}: branch not found on the Hub") from None
    except RepositoryNotFoundError:
        raise FerHubError(f"{repo_id}: not found, or this token cannot see it") from None
    except HfHubHTTPError as error:
        status = error.response.status_code
        hint = {
            401: "the Hub rejected the token: log in again with `hf auth login` or set HF_TOKEN",
            403: "this token may not write there: use a token with write access to the namespace",
            409: "a conflicting change happened on the Hub: try again",
        }.get(status, "the Hub failed: try again later" if status >= 500 else error.server_message or "refused")
        raise FerHubError(_scrub(f"{repo_id}: HTTP {status}, {hint}; {outcome}", token)) from None
    except (TransportError, OfflineModeIsEnabled) as error:
        raise FerHubError(_scrub(f"cannot reach the Hub at {api.endpoint} ({error}); {outcome}", token)) from None
    except ValueError as error:  # a JSON answer that is not JSON: not the Hub (a proxy's page, a wrong HF_ENDPOINT)
        raise FerHubError(
            _scrub(
                f"{repo_id}: the Hub at {api.endpoint} answered with something that is not JSON ({error}); {outcome}",
                token,
            )
        ) from error


def _scrub(message: str, token: str) -> str:
    return message.replace(token, "***") if token else message


def _publish(
    repo_id: str,
    repo_type: str,
    operations: list[CommitOperationAdd],
    *,
    private: bool,
    commit_message: str,
    revision: str | None = None,
    space_sdk: str | None = None,
) -> str:
    """create_repo, then every file in one commit; a failure, or an interruption (Ctrl-C), undoes the repo or
    branch this call created."""
    token = _require_token(repo_id)
    api = HfApi()
    with _hub_errors(api, repo_id, token):
        repo_existed = api.repo_exists(repo_id, repo_type=repo_type)
        branch_existed = not revision or (repo_existed and api.revision_exists(repo_id, revision, repo_type=repo_type))
        try:
            url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, space_sdk=space_sdk)
            if not branch_existed:
                api.create_branch(repo_id, branch=revision, repo_type=repo_type)
            api.create_commit(
                repo_id, operations, commit_message=commit_message, repo_type=repo_type, revision=revision
            )
        except BaseException:  # KeyboardInterrupt too: nothing half-made stays behind
            with contextlib.suppress(HfHubHTTPError, TransportError, ValueError):
                if not repo_existed:
                    api.delete_repo(repo_id, repo_type=repo_type, missing_ok=True)
                elif not branch_existed:
                    api.delete_branch(repo_id, branch=revision, repo_type=repo_type)
            raise
    return f"{url}/tree/{revision}" if revision else str(url)


def push_model(
    model_dir: str | Path,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Publish a trained folder (minus checkpoints/ and pickles) with a freshly generated card; returns its URL.

    README.md is always regenerated from metrics.json, so the published scores are the folder's own."""
    folder = local_model_folder(model_dir)
    files = model_upload_files(folder)
    card = render_model_card(folder, repo_id)
    metrics = read_metrics(folder)
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=folder / path) for path in files]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode()))
    message = commit_message or (
        f"Upload {metrics.get('model', 'model')} with fer-hub ({metrics['split']} accuracy {metrics['accuracy']:.4f}, "
        f"macro-F1 {metrics['f1_macro']:.4f})"
    )
    return _publish(repo_id, "model", operations, private=private, commit_message=message, revision=revision)


def push_space(
    repo_id: str, models: list[str] | None = None, private: bool = False, space_dir: str | Path = SPACE_DIR
) -> str:
    """Publish the Gradio demo as a Space in one commit: its folder plus the fer_hub package beside app.py.
    `models` (Hub ids) then go into the Space variable FER_HUB_MODELS and, after the embedded default's repo, the
    README's `models`; with None the variable is left as it is and the README goes as it is in the folder.
    `spaces/fer-demo/` of a source checkout is what this uploads for the zoo's Space (`train/hub_files.py`)."""
    operations = [CommitOperationAdd(path, data) for path, data in space_files(models, space_dir).items()]
    package = _files(PACKAGE_DIR, ("space/*",))  # the Space's own files are at its root already
    operations += [CommitOperationAdd(f"fer_hub/{path}", PACKAGE_DIR / path) for path in package]
    url = _publish(
        repo_id, "space", operations, private=private, commit_message="Upload the fer-hub demo", space_sdk="gradio"
    )
    if models:
        token = _require_token(repo_id)
        api = HfApi()
        outcome = f"the files were published, but set the Space variable {SPACE_MODELS_VARIABLE} in its settings"
        with _hub_errors(api, repo_id, token, outcome):
            api.add_space_variable(repo_id, SPACE_MODELS_VARIABLE, " ".join(models))
    return url
