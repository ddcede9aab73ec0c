"""model_cards/ and spaces/fer-demo/ are what `fer-hub card` and `fer-hub push-space` generate today: each zoo
model's card, and the Space's own files as push-space uploads them for the zoo's Space. Regenerate them with
`python train/hub_files.py` (which `--check` runs here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from huggingface_hub import ModelCard, SpaceCard

from fer_hub.hub.model_card import render_model_card
from fer_hub.hub.published import MODEL_CARDS, SPACE, published_files, stale_files, zoo_space_models
from fer_hub.hub.push import SPACE_DIR, space_files
from fer_hub.models.pretrained import PRETRAINED

ROOT = Path(__file__).resolve().parents[1]


def test_committed_cards_and_space_are_the_generated_ones():
    assert stale_files(ROOT) == [], "run python train/hub_files.py"


def test_each_zoo_model_has_its_card_as_fer_hub_card_renders_it(tmp_path):
    """`fer-hub card NAME` (or the folder by any path that resolves to it) renders the committed card."""
    files, missing = published_files()
    for name, entry in PRETRAINED.items():
        if name in missing:
            continue
        expected = files[MODEL_CARDS / f"{name}.md"]
        assert str(render_model_card(name, entry.hub_id)).encode() == expected
        link = tmp_path / name
        link.symlink_to(Path(entry.local_folder).resolve())
        assert str(render_model_card(link, entry.hub_id)).encode() == expected
    assert sorted((ROOT / MODEL_CARDS).glob("*.md")) == sorted(
        ROOT / MODEL_CARDS / f"{name}.md" for name in PRETRAINED if name not in missing
    )


def test_the_space_folder_is_what_push_space_uploads_for_the_zoo():
    uploaded = space_files(zoo_space_models())
    on_disk = {path.relative_to(ROOT / SPACE).as_posix() for path in (ROOT / SPACE).rglob("*") if path.is_file()}
    assert on_disk == set(uploaded)
    for path, data in uploaded.items():
        assert (ROOT / SPACE / path).read_bytes() == data
        if path != "README.md":  # the examples and the app stay package data: the wheel's demo and push-space use them
            assert (SPACE_DIR / path).read_bytes() == data
    assert SpaceCard.load(ROOT / SPACE / "README.md").data.models == [entry.hub_id for entry in PRETRAINED.values()]


def test_zoo_cards_report_private_test_and_link_the_base_model():
    files, missing = published_files()
    for name, entry in PRETRAINED.items():
        if name in missing:
            continue
        card = ModelCard(files[MODEL_CARDS / f"{name}.md"].decode())
        private = entry.scores.get("privatetest_accuracy")
        splits = {(result.dataset_split, result.metric_type) for result in card.data.eval_results}
        assert ("validation", "accuracy") in splits
        assert (("test", "accuracy") in splits) == (private is not None)
        if private is not None:
            assert (
                f"| PrivateTest (held out, scored independently) | accuracy, FER2013 labels | **{private:.4f}** |"
                in (card.text)
            )
        assert f"fer-hub predict photo.jpg --model {name}" in card.text
    assert ModelCard(files[MODEL_CARDS / "sepnet.ferplus.md"].decode()).data.base_model == "fer-hub/sepnet.fer2013"


def test_check_mode_passes_here_and_names_what_is_missing_elsewhere(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "train" / "hub_files.py"), "--check"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    files, _ = published_files()
    assert sorted(stale_files(tmp_path)) == sorted(str(path) for path in files)
