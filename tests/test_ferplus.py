"""FER+ crowd votes: attaching them to FER2013 rows, the flags for faces without a clear majority, the soft-label
loss, training on votes, both label sets in metrics.json / evaluate / the model card, and bad vote files.

`fixtures/ferplus_votes_tiny.csv.gz` holds made-up votes for the 133 rows of `fixtures/fer2013_tiny.csv.gz`, by row
number i: i % 10 in 0-5 -> a clear majority for the FER2013 label; 6 -> a clear majority for another class;
7 -> NF 10 (not a face); 8 -> unknown on top; 9 -> a tie at the top (i % 20 == 9) or contempt on top."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from fer_hub import LABELS, load_fer2013
from fer_hub.cli.main import main
from fer_hub.data.fer2013 import FERPLUS_EMOTION_COLUMNS, ferplus_targets
from fer_hub.errors import FerHubError
from fer_hub.hub.model_card import render_model_card
from fer_hub.labels import NO_FERPLUS_LABEL
from fer_hub.models.image_processing_fer import FerImageProcessor
from fer_hub.training.recipes import Recipe
from fer_hub.training.train import (
    batch_transform,
    class_weights,
    gray_pixels,
    initial_model,
    resample,
    with_clear_ferplus_majority,
)
from fer_hub.training.trainer import soft_cross_entropy

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "fer2013_tiny.csv.gz"
VOTES = FIXTURES / "ferplus_votes_tiny.csv.gz"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SHARED_CSV = SHARED / "fer2013" / "fer2013-train-publictest.csv.gz"
SHARED_VOTES = SHARED / "ferplus" / "ferplus-votes-train-publictest.csv.gz"
SPLIT_OF_USAGE = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test"}
TINY_SEPNET = {"stem_channels": [8, 8], "stage_channels": [16, 16, 16]}


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


def raw_lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def located(lines: list[dict], usage_field: str) -> list[tuple[str, int]]:
    """(split, index within the split) of every line, in file order."""
    seen: dict[str, int] = {}
    places = []
    for line in lines:
        split = SPLIT_OF_USAGE[line[usage_field]]
        places.append((split, seen.get(split, 0)))
        seen[split] = seen.get(split, 0) + 1
    return places


def expected_votes(line: dict) -> tuple[list[float], int]:
    """An independent reading of one votes line: the 7-class distribution and the majority label (-1 if none)."""
    emotion_counts = [int(line[name]) for name in FERPLUS_EMOTION_COLUMNS]
    all_counts = {name: int(line[name]) for name in (*FERPLUS_EMOTION_COLUMNS, "contempt", "unknown", "NF")}
    top = max(all_counts.values())
    winners = [name for name, count in all_counts.items() if count == top]
    clear = len(winners) == 1 and winners[0] in FERPLUS_EMOTION_COLUMNS
    label = FERPLUS_EMOTION_COLUMNS.index(winners[0]) if clear else -1
    total = sum(emotion_counts)
    return [count / total if total else 0.0 for count in emotion_counts], label


def write_votes(path: Path, lines: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(fields) for fields in lines) + "\n")
    return path


def votes_table() -> list[list[str]]:
    with gzip.open(VOTES, "rt", newline="") as handle:
        return list(csv.reader(handle))


# --- the loader ------------------------------------------------------------------------------------


def test_votes_attach_to_the_right_rows():
    dataset = load_fer2013(FIXTURE, votes=VOTES)
    assert {name: len(split) for name, split in dataset.items()} == {"train": 84, "validation": 35, "test": 14}
    assert dataset["train"].features["votes"] == datasets.List(datasets.Value("float32"), length=7)
    faces, votes = raw_lines(FIXTURE), raw_lines(VOTES)
    places = located(faces, "Usage")
    assert located(votes, "usage") == places
    for row in (0, 6, 7, 8, 9, 12, 16, 19, 57, 132):  # every pattern, every split, the last row
        split, index = places[row]
        record = dataset[split][index]
        distribution, label = expected_votes(votes[row])
        np.testing.assert_allclose(record["votes"], distribution, rtol=1e-6)
        assert record["ferplus_label"] == label
        assert record["label"] == int(faces[row]["emotion"])  # the same face as the CSV row
        pixels = np.asarray(record["image"]).ravel()
        np.testing.assert_array_equal(pixels, np.array(faces[row]["pixels"].split(), dtype=np.uint8))
    for row, (split, index) in enumerate(places):
        not_a_face = row % 10 == 7  # NF 10: no emotion votes, no distribution
        assert sum(dataset[split][index]["votes"]) == pytest.approx(0.0 if not_a_face else 1.0, abs=1e-6)


def test_shared_votes_file_spot_checks_and_published_counts(monkeypatch):
    monkeypatch.undo()  # the user cache: warm after the first run
    dataset = load_fer2013(SHARED_CSV, votes=SHARED_VOTES)
    votes = raw_lines(SHARED_VOTES)
    places = located(votes, "usage")
    for row in (0, 1, 2, 3, 1000, 28708, 28709, 30000, 32297):
        split, index = places[row]
        distribution, label = expected_votes(votes[row])
        np.testing.assert_allclose(dataset[split][index]["votes"], distribution, rtol=1e-6)
        assert dataset[split][index]["ferplus_label"] == label
    assert dataset["train"][0]["ferplus_label"] == LABELS.index("happy")  # row 0: happiness 9, unknown 1
    # the majority counts published in ../shared/datasets/ferplus/README.md (its "contempt" and "no clear
    # majority / unknown / NF" columns together are our -1)
    published = {
        "train": {
            "neutral": 9365,
            "happy": 7410,
            "surprise": 3378,
            "sad": 3403,
            "angry": 2399,
            "disgust": 175,
            "fear": 648,
        },
        "validation": {
            "neutral": 1242,
            "happy": 880,
            "surprise": 441,
            "sad": 395,
            "angry": 310,
            "disgust": 31,
            "fear": 73,
        },
    }
    for split, counts in published.items():
        labels = np.asarray(dataset[split]["ferplus_label"])
        assert {name: int((labels == LABELS.index(name)).sum()) for name in counts} == counts
    assert int((np.asarray(dataset["train"]["ferplus_label"]) == NO_FERPLUS_LABEL).sum()) == 162 + 1769
    assert int((np.asarray(dataset["validation"]["ferplus_label"]) == NO_FERPLUS_LABEL).sum()) == 24 + 193


def test_faces_without_a_clear_majority_are_flagged():
    #                   anger disgust fear happiness sadness surprise neutral contempt unknown NF
    counts = np.array(
        [
            [0, 0, 0, 9, 0, 0, 0, 0, 1, 0],  # happy
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face
            [0, 0, 0, 3, 0, 0, 0, 0, 5, 2],  # unknown on top
            [0, 0, 0, 4, 0, 0, 0, 6, 0, 0],  # contempt on top
            [4, 0, 0, 4, 0, 0, 0, 0, 0, 2],  # a tie
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # no votes
            [2, 0, 0, 0, 0, 0, 5, 3, 0, 0],  # neutral; contempt dropped from the distribution
        ]
    )
    distribution, labels = ferplus_targets(counts)
    assert labels.tolist() == [3, -1, -1, -1, -1, -1, 6]
    assert distribution.dtype == np.float32 and distribution.shape == (7, 7)
    np.testing.assert_allclose(distribution[6], [2 / 7, 0, 0, 0, 0, 0, 5 / 7], rtol=1e-6)
    np.testing.assert_array_equal(distribution[1], np.zeros(7))  # no emotion votes: no distribution
    np.testing.assert_allclose(distribution[3], [0, 0, 0, 1, 0, 0, 0])

    dataset = load_fer2013(FIXTURE, votes=VOTES)
    flagged = np.asarray(dataset["validation"]["ferplus_label"]) == NO_FERPLUS_LABEL
    assert flagged.sum() == 6  # the NF, unknown, contempt and tie rows among the 35


def test_votes_are_cached_and_a_changed_votes_file_is_read_again(tmp_path):
    load_fer2013(FIXTURE, votes=VOTES)
    cache = Path(datasets.config.HF_DATASETS_CACHE) / "fer_hub"
    assert len(list(cache.glob("csv-ferplus-*"))) == 1
    assert load_fer2013(FIXTURE, votes=VOTES)["train"][7]["ferplus_label"] == -1  # NF 10
    table = votes_table()
    table[8][2:12] = ["0", "0", "0", "0", "10", "0", "0", "0", "0", "0"]  # row 7: now 10 votes for anger
    changed = write_votes(tmp_path / "changed.csv", table)
    assert load_fer2013(FIXTURE, votes=changed)["train"][7]["ferplus_label"] == LABELS.index("angry")
    assert len(list(cache.glob("csv-ferplus-*"))) == 2


def edited(edit) -> list[list[str]]:
    table = votes_table()
    edit(table)
    return table


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: [row.pop(11) for row in t], "line 1: missing column(s) NF"),
        (lambda t: t.pop(), "no votes for 1 of the 133 data rows"),
        (lambda t: t.__setitem__(40, t[40][:5]), "line 41: 5 fields, expected 13"),
        (lambda t: t[5].__setitem__(6, "2.5"), "line 6: field 'anger' is '2.5', expected a whole number of votes"),
        (lambda t: t[5].__setitem__(11, "-1"), "line 6: field 'NF' is '-1'"),
        (lambda t: t[13].__setitem__(1, "Training"), "line 14: field 'usage' is 'Training', but row 12 of"),
        (lambda t: t[3].__setitem__(0, "1"), "line 4: field 'row' is 1, a row an earlier line already gave votes for"),
        (lambda t: t[3].__setitem__(0, "133"), "line 4: field 'row' is '133', expected a data row index of"),
        (lambda t: t[3].__setitem__(0, "x"), "line 4: field 'row' is 'x'"),
    ],
)
def test_bad_vote_files_name_file_line_and_field(edit, message, tmp_path):
    path = write_votes(tmp_path / "votes.csv", edited(edit))
    with pytest.raises(FerHubError) as error:
        load_fer2013(FIXTURE, votes=path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_rows_are_matched_by_their_row_field_not_their_order(tmp_path):
    table = votes_table()
    shuffled = write_votes(tmp_path / "shuffled.csv", [table[0], *table[1:][::-1]])
    np.testing.assert_array_equal(
        load_fer2013(FIXTURE, votes=shuffled)["train"]["votes"], load_fer2013(FIXTURE, votes=VOTES)["train"]["votes"]
    )


def test_votes_need_a_csv_source(tmp_path):
    with pytest.raises(FerHubError, match="matched to the rows of a FER2013 Kaggle CSV"):
        load_fer2013(tmp_path, votes=VOTES)
    with pytest.raises(FerHubError, match="no such FER\\+ votes file"):
        load_fer2013(FIXTURE, votes=tmp_path / "missing.csv")


# --- the loss and the batches ------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_soft_label_loss_equals_hard_label_loss_on_one_hot_votes(weighted, label_smoothing):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 7, generator=generator) * 3
    labels = torch.randint(0, 7, (32,), generator=generator)
    weight = torch.rand(7, generator=generator) + 0.5 if weighted else None
    hard = F.cross_entropy(logits, labels, weight=weight, label_smoothing=label_smoothing)
    soft = soft_cross_entropy(logits, F.one_hot(labels, 7).float(), weight=weight, label_smoothing=label_smoothing)
    torch.testing.assert_close(soft, hard)


def test_soft_label_loss_is_cross_entropy_with_the_vote_distribution_and_skips_empty_rows():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.0, 0.0, 1.0], [0.0] * 7, [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0]])
    votes = torch.tensor([[0.7, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0], [0.0] * 7, [0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]])
    log_p = logits.log_softmax(-1)
    expected = -((votes[0] * log_p[0]).sum() + (votes[2] * log_p[2]).sum()) / 2
    torch.testing.assert_close(soft_cross_entropy(logits, votes), expected)
    torch.testing.assert_close(F.cross_entropy(logits[[0, 2]], votes[[0, 2]]), expected)


def test_flagged_faces_are_left_out_of_training_and_batches_carry_votes_through_balancing_and_augmentation():
    dataset = load_fer2013(FIXTURE, votes=VOTES)
    processor = FerImageProcessor()
    augmentation = Recipe(model="sepnet").augmentation
    split = gray_pixels(dataset["train"], processor)
    assert set(split.column_names) == {"pixels", "label", "votes", "ferplus_label"}
    clear = with_clear_ferplus_majority(split)
    assert len(clear) == 57 and NO_FERPLUS_LABEL not in clear["ferplus_label"]
    counts = np.bincount(clear["ferplus_label"], minlength=7)
    weights = class_weights(clear["ferplus_label"])
    assert weights[counts.argmin()] > weights[counts.argmax()]  # balancing counts the FER+ classes
    oversampled = resample(clear, "oversample", 0, "ferplus_label")
    assert set(np.bincount(oversampled["ferplus_label"])) == {counts.max()}  # every FER+ class equally often
    oversampled.set_transform(batch_transform(processor, augmentation))
    batch = oversampled[:16]
    assert batch["pixel_values"].shape == (16, 1, 48, 48) and batch["votes"].shape == (16, 7)
    torch.testing.assert_close(batch["votes"].sum(-1), torch.ones(16))
    assert (batch["votes"].argmax(-1) == batch["ferplus_labels"]).all()

    validation = gray_pixels(dataset["validation"], processor)  # evaluation keeps every face, flagged ones too
    validation.set_transform(batch_transform(processor, None))
    batch = validation[:35]
    flagged = batch["ferplus_labels"] == NO_FERPLUS_LABEL
    assert int(flagged.sum()) == 6 and (batch["votes"][flagged] == 0).all()  # no target: the loss skips them
    assert batch["labels"].tolist() == dataset["validation"]["label"]


# --- training, evaluation and the card --------------------------------------------------------------


def tiny_recipe(folder: Path, **fields) -> Path:
    path = folder / "sepnet-tiny.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "model": "sepnet",
                "config": TINY_SEPNET,
                **fields,
                "training": {
                    "num_train_epochs": 1,
                    "per_device_train_batch_size": 16,
                    "per_device_eval_batch_size": 64,
                    "learning_rate": 1e-3,
                    "logging_steps": 1,
                    "seed": 0,
                },
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def ferplus_run(tmp_path_factory):
    """`fer-hub train --labels ferplus --votes ... --max-steps 2` on the tiny fixture: (folder, stdout)."""
    import contextlib

    folder = tmp_path_factory.mktemp("ferplus")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = main(
            [
                "train",
                "--model",
                "sepnet",
                "--data",
                str(FIXTURE),
                "--votes",
                str(VOTES),
                "--labels",
                "ferplus",
                "--output-dir",
                str(folder / "run"),
                "--recipe",
                str(tiny_recipe(folder)),
                "--max-steps",
                "2",
            ]
        )
    assert code == 0
    return folder / "run", output.getvalue()


def assert_scores(scores: dict, n: int) -> None:
    assert scores["n"] == n and 0.0 <= scores["accuracy"] <= 1.0 and 0.0 <= scores["f1_macro"] <= 1.0


@pytest.mark.slow
def test_ferplus_training_reports_both_label_sets(ferplus_run):
    folder, stdout = ferplus_run
    assert "training on the 57 of 84 faces with a clear FER+ majority" in stdout
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["training"]["labels"] == "ferplus" and metrics["training"]["steps"] == 2
    assert metrics["votes"] == str(VOTES)
    assert_scores(metrics, 35)  # the top level stays FER2013 labels, every validation face
    assert metrics["fer2013"] == {key: metrics[key] for key in ("n", "accuracy", "f1_macro")}
    ferplus = metrics["ferplus_majority"]
    assert_scores(ferplus, 29)
    assert ferplus["without_clear_majority"] == 6
    matrix = np.asarray(ferplus["confusion_matrix"])
    assert matrix.sum() == 29 and ferplus["accuracy"] == pytest.approx(np.trace(matrix) / 29)
    assert matrix.sum(axis=1).tolist() == [ferplus["per_class"][name]["support"] for name in LABELS]
    log = (folder / "training_log.txt").read_text()
    assert "val_accuracy" in log and "val_ferplus_accuracy" in log and "val_ferplus_f1_macro" in log
    recipe = yaml.safe_load((folder / "recipe.yaml").read_text())
    assert recipe["labels"] == "ferplus" and recipe["training"]["metric_for_best_model"] == "ferplus_accuracy"
    assert "FER+ majority accuracy" in stdout


@pytest.mark.slow
def test_fer2013_training_with_votes_scores_both_but_selects_on_fer2013(tmp_path):
    from fer_hub.training.train import train

    recipe = tiny_recipe(tmp_path)
    metrics = train("sepnet", str(FIXTURE), tmp_path / "run", recipe_path=recipe, max_steps=2, votes=str(VOTES))
    assert metrics["training"]["labels"] == "fer2013"
    assert_scores(metrics["ferplus_majority"], 29)
    recipe = yaml.safe_load((tmp_path / "run" / "recipe.yaml").read_text())
    assert recipe["training"]["metric_for_best_model"] == "accuracy"


@pytest.mark.slow
def test_recipe_key_labels_ferplus(tmp_path):
    from fer_hub.training.train import train

    recipe = tiny_recipe(tmp_path, labels="ferplus", balancing="oversample")
    with pytest.raises(FerHubError, match="needs the FER\\+ votes"):
        train("sepnet", str(FIXTURE), tmp_path / "a", recipe_path=recipe, max_steps=1)
    metrics = train("sepnet", str(FIXTURE), tmp_path / "b", recipe_path=recipe, max_steps=1, votes=str(VOTES))
    assert metrics["training"]["labels"] == "ferplus" and "ferplus_majority" in metrics
    with pytest.raises(FerHubError, match="field 'labels' is 'votes'; expected one of fer2013, ferplus"):
        train("sepnet", str(FIXTURE), tmp_path / "c", recipe_path=tiny_recipe(tmp_path, labels="votes"))


@pytest.mark.slow
def test_evaluate_with_votes(ferplus_run, tmp_path, capsys):
    folder, _ = ferplus_run
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(folder),
                "--data",
                str(FIXTURE),
                "--votes",
                str(VOTES),
                "--split",
                "test",
                "--output",
                str(tmp_path / "test.json"),
            ]
        )
        == 0
    )
    table = capsys.readouterr().out
    assert "FER2013 labels: accuracy" in table and "FER+ majority:  accuracy" in table
    evaluated = json.loads((tmp_path / "test.json").read_text())
    assert_scores(evaluated, 14)
    assert_scores(evaluated["ferplus_majority"], 8)
    assert evaluated["ferplus_majority"]["without_clear_majority"] == 6
    plain_output = str(tmp_path / "plain.json")
    assert main(["evaluate", "--model", str(folder), "--data", str(FIXTURE), "--output", plain_output]) == 0
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert "ferplus_majority" not in plain and plain["fer2013"]["n"] == 35


@pytest.mark.slow
def test_model_card_lists_ferplus_and_both_metric_sets(ferplus_run):
    folder, _ = ferplus_run
    metrics = json.loads((folder / "metrics.json").read_text())
    card = render_model_card(folder, repo_id="alice/fer-sepnet-ferplus")
    assert card.data.datasets is None  # trained from the local CSV: no Hub dataset id that would not resolve
    results = {
        (result.dataset_type, result.dataset_split, result.metric_type): result.metric_value
        for result in card.data.eval_results
    }
    assert results[("fer2013", "validation", "accuracy")] == round(metrics["accuracy"], 4)
    assert results[("ferplus", "validation", "accuracy")] == round(metrics["ferplus_majority"]["accuracy"], 4)
    assert results[("ferplus", "validation", "f1")] == round(metrics["ferplus_majority"]["f1_macro"], 4)
    text = card.text
    assert f"| accuracy, FER+ majority | **{metrics['ferplus_majority']['accuracy']:.4f}** |" in text
    assert f"| accuracy, FER2013 labels | **{metrics['accuracy']:.4f}** |" in text
    assert "training labels: the FER+ vote distributions" in text and "@inproceedings{barsoum2016ferplus" in text
    assert str(VOTES.parent) not in text  # local paths stay private


@pytest.mark.slow
def test_init_from_a_fer_hub_folder_of_the_same_architecture(ferplus_run, tmp_path):
    folder, _ = ferplus_run
    from safetensors.torch import load_file

    model, processor = initial_model("sepnet", str(folder), TINY_SEPNET)
    saved = load_file(folder / "model.safetensors")
    for key, tensor in model.state_dict().items():
        if key in saved:
            torch.testing.assert_close(tensor, saved[key])
    assert set(saved) <= set(model.state_dict())
    assert processor.size == {"height": 48, "width": 48}
    with pytest.raises(FerHubError, match="a 'fer_sepnet' model cannot initialise cnn \\(needs 'fer_cnn'\\)"):
        initial_model("cnn", str(folder), {})
    with pytest.raises(FerHubError, match="cannot start sepnet from this model folder"):
        initial_model("sepnet", str(folder), {"stage_channels": [32, 32, 32]})

    from fer_hub.training.train import train

    metrics = train(
        "sepnet",
        str(FIXTURE),
        tmp_path / "again",
        recipe_path=tiny_recipe(tmp_path),
        max_steps=1,
        init_from=str(folder),
        labels="ferplus",
        votes=str(VOTES),
    )
    assert metrics["training"]["steps"] == 1


def test_metrics_when_no_face_has_a_clear_majority():
    from fer_hub.evaluation.metrics import label_set_reports, trainer_metrics

    predictions, labels = np.array([1, 2, 3]), np.array([1, 2, 0])
    reports = label_set_reports(predictions, labels, np.array([-1, -1, -1]))
    assert "ferplus_majority" not in reports and reports["fer2013"]["accuracy"] == pytest.approx(2 / 3)
    scores = trainer_metrics((np.eye(7)[predictions], (labels, np.array([-1, -1, -1]))))
    assert scores["ferplus_accuracy"] == 0.0 and scores["accuracy"] == pytest.approx(2 / 3)
    scores = trainer_metrics((np.eye(7)[predictions], (labels, np.array([-1, 2, 4]))))
    assert scores["ferplus_accuracy"] == 0.5
