"""Model cards from model_cards/: YAML metadata with a model-index of the folder's real metrics.json, and a body
with usage, architecture and parameter count, recipe, per-class scores, confusion matrix, limitations, citation."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from huggingface_hub import ModelCard

from fer_hub import LABELS, create_model, image_processor_for, save_checkpoint
from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.evaluation.metrics import classification_report
from fer_hub.hub.model_card import render_model_card, write_model_card
from fer_hub.hub.push import model_upload_files
from fer_hub.models.factory import load_checkpoint


@pytest.fixture
def sepnet_dir(trained_model_dir, tmp_path) -> Path:
    return Path(shutil.copytree(trained_model_dir, tmp_path / "sepnet", ignore=shutil.ignore_patterns("checkpoints")))


@pytest.fixture(scope="module")
def resnet_dir(tmp_path_factory) -> Path:
    """A transformers-native model (no model code), scored on a Hub dataset's test split, with no recipe.yaml."""
    folder = tmp_path_factory.mktemp("resnet101")
    model = create_model("resnet101")
    save_checkpoint(model, image_processor_for(model), folder)
    rng = np.random.default_rng(1)
    report = classification_report(rng.integers(0, 7, 50), rng.integers(0, 7, 50))
    (folder / "metrics.json").write_text(
        json.dumps({"split": "test", "data": "someone/fer2013-faces", "model": "resnet101", **report})
    )
    return folder


def test_card_metadata_and_model_index_are_the_folder_metrics(sepnet_dir):
    path = write_model_card(sepnet_dir, repo_id="alice/fer-sepnet")

    card = ModelCard.load(path)
    metrics = json.loads((sepnet_dir / "metrics.json").read_text())
    assert path == sepnet_dir / "README.md"
    assert card.data.pipeline_tag == "image-classification"
    assert card.data.library_name == "transformers"
    assert card.data.license == "apache-2.0"
    assert card.data.datasets is None  # trained from a local CSV: FER2013 has no official Hub dataset to name
    assert card.data.base_model is None  # not a zoo model: nothing known about what it started from
    assert {"fer2013", "sepnet", "custom_code"} <= set(card.data.tags)
    results = {result.metric_type: result for result in card.data.eval_results}
    assert results["accuracy"].metric_value == round(metrics["accuracy"], 4)
    assert results["f1"].metric_value == round(metrics["f1_macro"], 4)
    assert {(r.dataset_name, r.dataset_split, r.task_type) for r in results.values()} == {
        ("FER2013", metrics["split"], "image-classification")
    }


def test_card_body_reports_the_folder(sepnet_dir):
    text = render_model_card(sepnet_dir, repo_id="alice/fer-sepnet").text
    metrics = json.loads((sepnet_dir / "metrics.json").read_text())
    recipe = yaml.safe_load((sepnet_dir / "recipe.yaml").read_text())
    model, _ = load_checkpoint(sepnet_dir)

    assert 'pipeline("image-classification", model="alice/fer-sepnet", trust_remote_code=True)' in text
    assert 'AutoModelForImageClassification.from_pretrained("alice/fer-sepnet", trust_remote_code=True)' in text
    assert f"parameters: {sum(p.numel() for p in model.parameters()):,}" in text
    assert "FerSepNetForImageClassification" in text
    assert f"| learning_rate | {recipe['training']['learning_rate']} |" in text
    assert f"| label_smoothing | {recipe['label_smoothing']} |" in text
    assert "teacher (hard distillation)" not in text  # trained without one
    assert f"- optimizer steps: {metrics['training']['steps']}" in text
    for name in LABELS:
        scores = metrics["per_class"][name]
        assert (
            f"| {name} | {scores['precision']:.3f} | {scores['recall']:.3f} | {scores['f1']:.3f} | {scores['support']} |"
            in text
        )
    for name, row in zip(LABELS, metrics["confusion_matrix"]):
        assert f"| **{name}** | {' | '.join(map(str, row))} |" in text
    assert "![Row-normalised confusion matrix](confusion_matrix.png)" in text
    assert "EU AI Act" in text and "workplaces and education institutions" in text
    assert "@inproceedings{goodfellow2013challenges" in text and "@software{fer_hub" in text
    assert "`transformers>=5.0,<6`" in text and "`PreTrainedConfig`" in text
    assert "pip install fer-hub" in text and "fer-hub predict photo.jpg --model alice/fer-sepnet" in text
    assert "PrivateTest (held out" not in text  # a folder of no zoo entry has no held-out score
    assert str(sepnet_dir) not in text  # local paths stay private


def test_card_for_a_transformers_native_model_from_a_hub_dataset(resnet_dir):
    card = render_model_card(resnet_dir)

    assert card.data.datasets == ["someone/fer2013-faces"]
    assert "custom_code" not in card.data.tags
    assert {result.dataset_split for result in card.data.eval_results} == {"test"}
    assert "YOUR_USERNAME/fer-resnet101" in card.text
    assert "Its image processor is custom code" in card.text
    assert "hyperparameters were not recorded" in card.text
    assert "FER2013 PrivateTest" in card.text
    assert "](confusion_matrix.png)" not in card.text  # no image in this folder


def test_the_architecture_line_names_the_config_that_differs_from_the_zoo_default(resnet_dir, tmp_path):
    line = "depths 3-4-23-3), 1 input channel"
    assert f"{line}." in render_model_card(resnet_dir).text  # the zoo's own resnet101: nothing added
    folder = tmp_path / "resnet50"
    shutil.copytree(resnet_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "depths": [3, 4, 6, 3]}))
    assert f"{line}; this model: depths=[3, 4, 6, 3]." in render_model_card(folder).text


def test_transformers_native_model_needs_only_the_processor_code(resnet_dir, tmp_path):
    files = model_upload_files(resnet_dir)
    assert "image_processing_fer.py" in files and not [f for f in files if f.startswith("modeling_")]

    folder = Path(shutil.copytree(resnet_dir, tmp_path / "resnet101"))
    (folder / "image_processing_fer.py").unlink()
    with pytest.raises(FerHubError, match="image_processing_fer.py"):
        model_upload_files(folder)


@pytest.mark.parametrize(
    "metrics, message",
    [(None, "no metrics.json"), ({"split": "validation"}, "missing field"), ("{not json", "not valid JSON")],
)
def test_card_needs_real_metrics(sepnet_dir, metrics, message):
    path = sepnet_dir / "metrics.json"
    if metrics is None:
        path.unlink()
    else:
        path.write_text(metrics if isinstance(metrics, str) else json.dumps(metrics))

    with pytest.raises(FerHubError, match=message):
        write_model_card(sepnet_dir)
    assert not (sepnet_dir / "README.md").exists()


def test_cli_card_writes_readme(sepnet_dir, capsys):
    assert main(["card", str(sepnet_dir), "--repo-id", "bob/fer"]) == 0
    assert str(sepnet_dir / "README.md") in capsys.readouterr().out
    assert ModelCard.load(sepnet_dir / "README.md").data.model_name == "fer"


def test_card_widget_uses_the_space_examples():
    from fer_hub.hub.model_card import DEMO_SPACE, WIDGET_EXAMPLES, widget_examples
    from fer_hub.hub.push import SPACE_DIR

    widget = widget_examples()
    assert [entry["src"].rsplit("/", 1)[1] for entry in widget] == [name for name, _ in WIDGET_EXAMPLES]
    for entry in widget:
        assert entry["src"].startswith(f"https://huggingface.co/spaces/{DEMO_SPACE}/resolve/main/examples/")
        assert (SPACE_DIR / "examples" / entry["src"].rsplit("/", 1)[1]).is_file()  # uploaded by push-space


def test_a_zoo_folder_gets_its_held_out_private_test_scores_and_base_model():
    from fer_hub.models.pretrained import PRETRAINED

    entry = PRETRAINED["sepnet.ferplus"]
    card = render_model_card(entry.local_folder, entry.hub_id)
    scores = entry.scores
    test = {r.metric_name: r.metric_value for r in card.data.eval_results if r.dataset_split == "test"}
    assert test == {
        "Accuracy (FER2013 labels, PrivateTest, held out)": scores["privatetest_accuracy"],
        "Accuracy (FER+ majority, PrivateTest, held out)": scores["privatetest_ferplus_accuracy"],
    }
    assert card.data.base_model == "fer-hub/sepnet.fer2013"
    assert "| PublicTest (the split the models were selected on) | accuracy, FER2013 labels |" in card.text
    assert (
        f"| PrivateTest (held out, scored independently) | accuracy, FER2013 labels | **{scores['privatetest_accuracy']:.4f}** |"
        in card.text
    )
    assert card.data.widget and card.data.datasets is None


@pytest.mark.parametrize(
    ("init_from", "shown"),
    [
        ("vgg16.fer2013", "vgg16.fer2013"),
        ("--init-from=/home/alice/runs/vgg16-first", "the local folder vgg16-first"),
        (None, None),
    ],
)
def test_card_names_the_model_a_run_started_from(sepnet_dir, tmp_path, init_from, shown):
    folder = shutil.copytree(sepnet_dir, tmp_path / "run")
    start = [] if init_from is None else [init_from] if init_from.startswith("--") else ["--init-from", init_from]
    first_call = ["fer-hub", "train", "--model", "sepnet", "--data", "fer.csv", "--output-dir", "run", *start]
    (folder / "command.txt").write_text(shlex.join(first_call) + "\n" + shlex.join([*first_call, "--resume"]) + "\n")
    text = render_model_card(folder).text
    if shown is None:
        assert "started from" not in text
    else:
        assert f"| started from | the weights of {shown} (`--init-from`, command.txt) |" in text
        assert "/home/alice" not in text  # local paths stay private


def test_card_of_a_further_cycle_says_it_started_from_the_earlier_weights(sepnet_dir, tmp_path, monkeypatch):
    from fer_hub.hub import model_card
    from fer_hub.models.pretrained import PRETRAINED

    folder = shutil.copytree(sepnet_dir, tmp_path / "run")
    command = ["fer-hub", "train", "--model", "sepnet", "--init-from", "sepnet.fer2013", "--output-dir", "run"]
    (folder / "command.txt").write_text(shlex.join(command) + "\n")
    monkeypatch.setattr(model_card, "zoo_entry", lambda _: PRETRAINED["sepnet.fer2013"])  # the folder of that name
    text = render_model_card(folder).text
    assert "| started from | the earlier weights of sepnet.fer2013 (`--init-from`, command.txt) |" in text
