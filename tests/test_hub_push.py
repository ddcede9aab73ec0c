"""`fer-hub push` against the local Hub stand-in: the pushed repo loads with from_pretrained and pipeline in a
fresh process that never imports fer_hub, one commit per push, refusals before any network call, failed pushes
leave the repo as it was, and the token is written nowhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from PIL import Image

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.hub.push import push_model
from fer_hub.models.factory import load_checkpoint

pytestmark = pytest.mark.hub

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    sys.modules["fer_hub"] = None  # importing fer_hub fails here
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline
    repo, photo = sys.argv[1], sys.argv[2]
    model = AutoModelForImageClassification.from_pretrained(repo, trust_remote_code=True).eval()
    processor = AutoImageProcessor.from_pretrained(repo, trust_remote_code=True)
    with torch.no_grad():
        logits = model(**processor(Image.open(photo), return_tensors="pt")).logits
    classify = pipeline("image-classification", model=repo, trust_remote_code=True)
    assert sys.modules["fer_hub"] is None
    print(json.dumps({"logits": logits.tolist(), "pipeline": classify(Image.open(photo), top_k=7)}))
    """
)


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and needle.encode() in path.read_bytes()]


def _copy(folder: Path, destination: Path) -> Path:
    return Path(shutil.copytree(folder, destination, ignore=shutil.ignore_patterns("checkpoints")))


@pytest.fixture(scope="module")
def face_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("face") / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 56), dtype=np.uint8)).save(path)
    return path


@pytest.mark.slow
def test_pushed_model_loads_in_a_fresh_process_with_the_same_logits(
    trained_model_dir, hub_endpoint, repo_id, face_png, tmp_path
):
    url = push_model(trained_model_dir, repo_id)

    assert url.endswith(repo_id)
    assert hub_endpoint.commit_count(repo_id) == 2  # the repo's initial commit, then one for the push
    pushed = set(hub_endpoint.repo(repo_id).files("main"))
    assert {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "modeling_sepnet.py",
        "configuration_sepnet.py",
        "image_processing_fer.py",
        "metrics.json",
        "confusion_matrix.png",
        "recipe.yaml",
        "README.md",
    } <= pushed
    assert not [path for path in pushed if path.startswith("checkpoints/")]

    model, processor = load_checkpoint(trained_model_dir)
    with torch.no_grad():
        expected = model(**processor(Image.open(face_png), return_tensors="pt")).logits.numpy()
    fresh_home = tmp_path / "fresh-hf-home"
    env = {**os.environ, "HF_HOME": str(fresh_home)}  # HF_ENDPOINT set by the hub_endpoint fixture
    env.pop("HF_TOKEN")  # a public repo loads anonymously
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, repo_id, str(face_png)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])

    np.testing.assert_allclose(np.array(output["logits"]), expected, rtol=1e-5, atol=1e-5)
    scores = {entry["label"]: entry["score"] for entry in output["pipeline"]}
    probabilities = torch.from_numpy(expected).softmax(-1)[0]
    assert scores == pytest.approx({model.config.id2label[i]: float(p) for i, p in enumerate(probabilities)}, abs=1e-5)
    for root in (hub_endpoint.root, trained_model_dir, tmp_path):  # tmp_path holds both processes' HF_HOME
        assert _files_containing(root, hub_endpoint.token) == []


def test_pushed_card_carries_the_folder_metrics(trained_model_dir, hub_endpoint, repo_id):
    push_model(trained_model_dir, repo_id)

    card = ModelCard.load(repo_id)
    metrics = json.loads((trained_model_dir / "metrics.json").read_text())
    results = {result.metric_type: result for result in card.data.eval_results}
    assert results["accuracy"].metric_value == pytest.approx(metrics["accuracy"], abs=1e-4)
    assert results["f1"].metric_value == pytest.approx(metrics["f1_macro"], abs=1e-4)
    assert {result.dataset_split for result in results.values()} == {metrics["split"]}
    assert card.data.pipeline_tag == "image-classification"
    assert f'pipeline("image-classification", model="{repo_id}"' in card.text
    assert not (trained_model_dir / "README.md").exists()  # the card is generated for the upload only


def test_push_to_a_branch_leaves_main_untouched(trained_model_dir, hub_endpoint, repo_id, tmp_path):
    push_model(trained_model_dir, repo_id)
    main_head = hub_endpoint.repo(repo_id).branches["main"]
    changed = _copy(trained_model_dir, tmp_path / "changed")
    (changed / "training_log.txt").write_text("a second run\n")

    url = push_model(changed, repo_id, revision="experiment", commit_message="try on a branch")

    repo = hub_endpoint.repo(repo_id)
    assert url.endswith(f"{repo_id}/tree/experiment")
    assert repo.branches["main"] == main_head
    assert repo.commits[repo.branches["experiment"]]["message"] == "try on a branch"
    assert repo.commits[repo.branches["experiment"]]["parent"] == main_head
    assert hub_endpoint.read(repo_id, "training_log.txt", revision="experiment") == b"a second run\n"


def test_push_uses_the_cached_login(trained_model_dir, hub_endpoint, repo_id, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    login = subprocess.run(
        [str(Path(sys.executable).parent / "hf"), "auth", "login", "--token", hub_endpoint.token],
        capture_output=True,
        text=True,
        timeout=60,
    )  # into HF_HOME, as the fixture set it
    assert login.returncode == 0, login.stderr[-2000:]

    push_model(trained_model_dir, repo_id)

    assert hub_endpoint.commit_count(repo_id) == 2
    assert _files_containing(hub_endpoint.root, hub_endpoint.token) == []


def test_cli_push_prints_the_url(trained_model_dir, hub_endpoint, repo_id, capsys):
    assert main(["push", "--model", str(trained_model_dir), "--repo-id", repo_id, "--private"]) == 0
    assert repo_id in capsys.readouterr().out
    assert hub_endpoint.repo(repo_id).private


@pytest.mark.parametrize(
    "remove, named",
    [
        ("model.safetensors", "model.safetensors"),
        ("config.json", "config.json"),
        ("preprocessor_config.json", "preprocessor_config.json"),
        ("modeling_sepnet.py", "modeling_sepnet.py (code named in config.json auto_map)"),
        ("configuration_sepnet.py", "configuration_sepnet.py"),
        ("image_processing_fer.py", "image_processing_fer.py (code named in preprocessor_config.json auto_map)"),
        ("metrics.json", "no metrics.json"),
    ],
)
def test_incomplete_folder_is_refused_before_any_network_call(
    trained_model_dir, hub_endpoint, repo_id, tmp_path, remove, named
):
    folder = _copy(trained_model_dir, tmp_path / "model")
    (folder / remove).unlink()
    requests_before = len(hub_endpoint.requests)

    with pytest.raises(FerHubError, match="refusing to publish|no metrics.json") as error:
        push_model(folder, repo_id)

    assert named in str(error.value)
    assert len(hub_endpoint.requests) == requests_before


def test_missing_login_and_bad_repo_id_are_refused_before_any_network_call(
    trained_model_dir, hub_endpoint, monkeypatch
):
    requests_before = len(hub_endpoint.requests)
    with pytest.raises(FerHubError, match="OWNER/NAME"):
        push_model(trained_model_dir, "no-namespace")
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(FerHubError, match="not logged in"):
        push_model(trained_model_dir, "someone/model")
    assert len(hub_endpoint.requests) == requests_before


def test_cli_refusal_exits_2_with_a_message(tmp_path, hub_endpoint, capsys):
    assert main(["push", "--model", str(tmp_path), "--repo-id", "someone/model"]) == 2
    assert "model.safetensors" in capsys.readouterr().err


def test_failed_first_push_leaves_no_repo(trained_model_dir, hub_endpoint, repo_id):
    hub_endpoint.fail_next("commit")

    with pytest.raises(FerHubError, match="HTTP 500.*nothing was published"):
        push_model(trained_model_dir, repo_id)

    assert hub_endpoint.repo(repo_id) is None


def test_failed_push_leaves_the_existing_repo_as_it_was(trained_model_dir, hub_endpoint, repo_id, tmp_path):
    push_model(trained_model_dir, repo_id)
    before = hub_endpoint.repo(repo_id)
    head, files = before.branches["main"], dict(before.files("main"))
    changed = _copy(trained_model_dir, tmp_path / "changed")
    (changed / "training_log.txt").write_text("a second run\n")

    for revision in (None, "new-branch"):
        hub_endpoint.fail_next("commit")
        with pytest.raises(FerHubError, match="HTTP 500"):
            push_model(changed, repo_id, revision=revision)

    after = hub_endpoint.repo(repo_id)
    assert after.branches == {"main": head}
    assert after.files("main") == files
    assert hub_endpoint.commit_count(repo_id) == 2


def test_rejected_token_is_reported_without_the_token(trained_model_dir, hub_endpoint, repo_id, monkeypatch):
    wrong = "hf_wrongtoken1234567890"
    monkeypatch.setenv("HF_TOKEN", wrong)

    with pytest.raises(FerHubError, match="HTTP 401.*hf auth login") as error:
        push_model(trained_model_dir, repo_id)

    assert wrong not in str(error.value)


def test_unreachable_hub_is_reported(trained_model_dir, hub_endpoint, repo_id, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens

    with pytest.raises(FerHubError, match="cannot reach the Hub at http://127.0.0.1:9"):
        push_model(trained_model_dir, repo_id)
