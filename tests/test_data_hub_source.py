"""`load_fer2013("owner/name")`: a FER2013 DatasetDict pushed to the local Hub stand-in as a dataset repo comes
back through `datasets.load_dataset` with its splits, `image` and `label` columns, counts and labels."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fer_hub import load_fer2013

pytestmark = [pytest.mark.slow, pytest.mark.hub]

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"

# datasets reads HF_ENDPOINT at import into its own config, so the round trip runs in a process started with it.
ROUND_TRIP = textwrap.dedent(
    """
    import hashlib, json, sys
    from fer_hub import load_fer2013
    source, repo_id = sys.argv[1], sys.argv[2]
    load_fer2013(source).push_to_hub(repo_id)
    loaded = load_fer2013(repo_id)
    print(json.dumps({
        name: {"columns": sorted(split.column_names), "labels": list(split["label"]),
               "images": [hashlib.sha256(image.tobytes()).hexdigest() for image in split["image"]]}
        for name, split in loaded.items()
    }))
    """
)


def test_hub_dataset_round_trip(hub_endpoint, repo_id, tmp_path):
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "datasets-cache")}  # HF_ENDPOINT, HF_HOME: fixture
    result = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, str(FIXTURE), repo_id],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    local = load_fer2013(FIXTURE)
    assert list(loaded) == list(local) == ["train", "validation", "test"]
    assert hub_endpoint.repo(repo_id, "dataset") is not None
    for name, split in local.items():
        assert loaded[name]["columns"] == ["image", "label"]
        assert loaded[name]["labels"] == list(split["label"])
        assert loaded[name]["images"] == [hashlib.sha256(image.tobytes()).hexdigest() for image in split["image"]]
