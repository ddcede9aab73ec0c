"""Training recipes: packaged YAML files, a `cpu:` section over the full schedule, and `base:` for a variant that
changes a few fields of another recipe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fer_hub.errors import FerHubError
from fer_hub.training.recipes import RECIPE_DIR, load_recipe


@pytest.mark.parametrize("path", sorted(RECIPE_DIR.glob("*.yaml")), ids=lambda path: path.stem)
@pytest.mark.parametrize("on_cpu", [True, False], ids=["cpu", "gpu"])
def test_every_packaged_recipe_loads(path, on_cpu):
    recipe = load_recipe(path, on_cpu=on_cpu)
    assert path.stem.startswith(recipe.model) and recipe.training


def without_source(recipe):
    return dataclasses.replace(recipe, source="")


@pytest.mark.parametrize("on_cpu", [True, False])
def test_a_variant_is_its_base_with_its_own_fields_over_it(on_cpu):
    vit = load_recipe(RECIPE_DIR / "vit.yaml", on_cpu=on_cpu)
    variant = load_recipe(RECIPE_DIR / "vit-plain.yaml", on_cpu=on_cpu)
    plain = {"stem_channels": [], "patch_size": 4}
    assert variant.config == plain and vit.config == {}
    assert without_source(variant) == dataclasses.replace(without_source(vit), config=plain)


def test_a_base_beside_the_recipe_comes_before_the_packaged_one(tmp_path):
    (tmp_path / "cnn.yaml").write_text("model: cnn\nlabel_smoothing: 0.3\ntraining: {num_train_epochs: 7}\n")
    (tmp_path / "mine.yaml").write_text("base: cnn.yaml\ncpu: {training: {num_train_epochs: 2}}\n")
    (tmp_path / "packaged.yaml").write_text("base: rnn.yaml\nlabel_smoothing: 0.2\n")
    mine = load_recipe(tmp_path / "mine.yaml", on_cpu=True)
    assert (mine.model, mine.label_smoothing, mine.training) == ("cnn", 0.3, {"num_train_epochs": 2})
    assert load_recipe(tmp_path / "mine.yaml", on_cpu=False).training == {"num_train_epochs": 7}
    packaged = load_recipe(tmp_path / "packaged.yaml", on_cpu=True)
    rnn = load_recipe(RECIPE_DIR / "rnn.yaml", on_cpu=True)
    assert without_source(packaged) == dataclasses.replace(without_source(rnn), label_smoothing=0.2)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"a.yaml": "base: b.yaml\n", "b.yaml": "base: a.yaml\nmodel: cnn\n"},
            "b.yaml: field 'base': a.yaml leads back",
        ),
        ({"a.yaml": "base: a.yaml\nmodel: cnn\n"}, "a.yaml: field 'base': a.yaml leads back"),
        ({"a.yaml": "base: nowhere.yaml\n"}, "nowhere.yaml: recipe not found"),
        ({"a.yaml": "base: cnn.yaml\nepochs: 3\n"}, "a.yaml: unknown field(s) epochs"),
        ({"a.yaml": "label_smoothing: 0.1\n"}, "a.yaml: a recipe is a mapping with at least a 'model' field"),
        ({"a.yaml": "- model\n"}, "a.yaml: a recipe is a mapping"),
        ({"a.yaml": "model: [cnn\n"}, "a.yaml: not valid YAML"),
    ],
)
def test_a_bad_recipe_is_one_error_naming_the_file(tmp_path: Path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(FerHubError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_recipe(tmp_path / "a.yaml", on_cpu=True)
