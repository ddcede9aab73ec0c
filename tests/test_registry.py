"""The model registry: one entry per model whose facts agree with the code and files they name, readable without
importing torch or transformers (so the CLI can list the models at once)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from transformers import CONFIG_MAPPING

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.hub.model_card import NOT_ARCHITECTURE
from fer_hub.models.factory import create_model
from fer_hub.models.pretrained import list_pretrained, pretrained_entry
from fer_hub.models.registry import MODELS, entry_for_model_type, list_models, model_entry
from fer_hub.training.recipes import RECIPE_DIR, default_recipe_path, training_target

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "fer_hub"


@pytest.mark.parametrize("name", list_models())
def test_entry_names_real_classes_a_packaged_recipe_and_buildable_defaults(name):
    entry = model_entry(name)
    assert entry.name == name and entry.description
    config = entry.config_class(**entry.config_defaults)
    assert (
        entry.model_class.config_class is entry.config_class and entry.backbone_class.config_class is entry.config_class
    )
    assert entry_for_model_type(config.model_type) is entry

    recipe = default_recipe_path(name)
    assert recipe.parent == RECIPE_DIR and RECIPE_DIR.parent == PACKAGE_DIR and recipe.is_file()
    assert yaml.safe_load(recipe.read_text())["model"] == name


def test_pretrained_sources_are_the_transformers_model_types_their_entries_build_on():
    sources = {name: entry.pretrained_source for name, entry in MODELS.items() if entry.pretrained_source}
    assert sources == {"resnet101": "resnet", "vit": "vit"}
    for name, source in sources.items():
        assert issubclass(MODELS[name].config_class, CONFIG_MAPPING[source])


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(
        FerHubError, match="unknown model 'vgg19'; choose one of: vgg16, resnet101, cnn, rnn, vit, sepnet"
    ):
        model_entry("vgg19")
    assert entry_for_model_type("bert") is None


def test_train_help_lists_the_registry_models(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert f"architecture ({', '.join(list_models())}: its own recipe)" in " ".join(capsys.readouterr().out.split())


def test_registry_reads_without_torch_or_transformers():
    check = textwrap.dedent(
        f"""
        import sys, types
        sys.modules["torch"] = sys.modules["transformers"] = None  # importing either fails
        package = types.ModuleType("fer_hub")
        package.__path__ = [{str(PACKAGE_DIR)!r}]  # its modules, without running fer_hub/__init__.py
        sys.modules["fer_hub"] = package
        from fer_hub.models.registry import list_models, model_entry
        print(",".join(list_models()), model_entry("vit").pretrained_source)
        """
    )
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == [",".join(list_models()), "vit"]


@pytest.mark.parametrize("name", list_pretrained())
def test_an_architecture_builds_by_default_the_model_the_zoo_ships(name):
    """`create_model(architecture)` is the shipped model's architecture: a variant needs its own name."""
    entry = pretrained_entry(name)
    shipped = json.loads((entry.local_folder / "config.json").read_text())
    built = create_model(entry.architecture).config.to_dict()
    assert {key: built.get(key) for key in set(shipped) - NOT_ARCHITECTURE} == {
        key: shipped[key] for key in set(shipped) - NOT_ARCHITECTURE
    }


def test_models_command_lists_every_trained_model_with_its_score_and_weights(monkeypatch, capsys):
    monkeypatch.delenv("FER_HUB_CHECKPOINTS", raising=False)
    monkeypatch.chdir(PACKAGE_DIR.parent)  # the weights' folders show relative to the checkout
    scores = json.loads((PACKAGE_DIR / "models" / "pretrained_scores.json").read_text())
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = re.split(r" {2,}", lines[0])  # columns are two or more spaces apart ("FER+ votes" has one)
    assert header[0] == "name" and header[-1] == "weights"
    rows = {cells[0]: dict(zip(header, cells)) for cells in (re.split(r" {2,}", line) for line in lines[1:] if line)}
    for name in list_pretrained():
        entry = pretrained_entry(name)
        folder = entry.local_folder.relative_to(PACKAGE_DIR.parent).as_posix()
        assert folder == ("fer_hub/default_model" if name == "sepnet.ferplus" else f"checkpoints/{name}")
        assert rows[name]["architecture"] == entry.architecture
        assert rows[name]["PublicTest"] == f"{scores[name]['publictest_accuracy']:.4f}"
        assert rows[name]["weights"] == folder


def test_train_takes_a_trained_models_name_for_its_architecture_and_recipe():
    architecture, recipe = training_target("cnn.fer2013")
    assert architecture == "cnn" and recipe == RECIPE_DIR / "cnn.yaml" and recipe.is_file()
    assert training_target("sepnet.ferplus") == ("sepnet", RECIPE_DIR / "sepnet-ferplus.yaml")
    assert training_target("cnn") == ("cnn", default_recipe_path("cnn"))


def test_train_with_an_unknown_trained_model_name_is_one_error_line(tmp_path, capsys):
    data = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
    output = tmp_path / "out"
    assert main(["train", "--model", "nosuch.name", "--data", str(data), "--output-dir", str(output)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"fer-hub train: error: unknown model name 'nosuch.name'; trained models: {', '.join(list_pretrained())}"
    ]
    assert not output.exists()  # refused before anything was made
