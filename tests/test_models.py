"""The zoo: every architecture builds, trains a step, and round-trips through save_pretrained to the
Auto classes and pipeline() in a fresh Python process that never imports fer_hub."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import ResNetForImageClassification, ViTForImageClassification
from transformers.modeling_outputs import ImageClassifierOutput, ImageClassifierOutputWithNoAttention

from fer_hub import LABELS, create_model, image_processor_for, list_models, save_checkpoint
from fer_hub.errors import FerHubError

STUDY_MODELS = ["vgg16", "resnet101", "cnn", "rnn", "vit"]

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    sys.modules["fer_hub"] = None  # any attempt to import fer_hub fails
    import numpy as np, torch
    from PIL import Image
    from transformers import AutoModelForImageClassification, pipeline
    folder, photo = sys.argv[1], sys.argv[2]
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
    with torch.no_grad():
        logits = model(pixel_values=torch.from_numpy(np.load(folder + "/input.npy"))).logits
    classify = pipeline("image-classification", model=folder, trust_remote_code=True)
    print(json.dumps({"class": type(model).__name__, "logits": logits.tolist(),
                      "pipeline": classify(Image.open(photo), top_k=7)}))
    """
)


def test_list_models_has_the_study_five_and_sepnet():
    assert list_models() == STUDY_MODELS + ["sepnet"]
    with pytest.raises(FerHubError, match="unknown model 'vgg19'; choose one of: vgg16, resnet101"):
        create_model("vgg19")


def test_transformers_own_resnet_and_vit_are_used():
    resnet, vit = create_model("resnet101"), create_model("vit")
    assert isinstance(resnet, ResNetForImageClassification) and resnet.config.depths == [3, 4, 23, 3]
    assert resnet.config.layer_type == "bottleneck" and resnet.config.num_channels == 1
    assert isinstance(vit, ViTForImageClassification) and vit.config.image_size == 48 and vit.config.num_channels == 1


def test_study_architectures_have_the_specified_shapes():
    vgg = create_model("vgg16")
    convs = [m for m in vgg.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13 and convs[0].out_channels == 64 and convs[-1].out_channels == 512
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in vgg.modules()) == 13
    assert [m.out_features for m in vgg.modules() if isinstance(m, torch.nn.Linear)] == [4096, 4096, 7]
    assert [m.p for m in vgg.modules() if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    cnn = create_model("cnn")
    assert [m.out_channels for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)] == [32, 64, 128]
    assert [m.out_features for m in cnn.modules() if isinstance(m, torch.nn.Linear)] == [1024, 7]
    rnn = create_model("rnn")
    assert rnn.lstm.bidirectional and rnn.lstm.num_layers == 2 and rnn.lstm.hidden_size == 64
    assert rnn.lstm.input_size == 48 and rnn.dense[0].out_features == 64


@pytest.mark.parametrize("name", list_models())
def test_forward_returns_logits_and_loss_and_learns(name):
    model = create_model(name) if name not in ("vgg16", "resnet101") else create_model(
        name, **({"hidden_size": 64} if name == "vgg16" else {"depths": [1, 1, 1, 1]})
    )
    assert model.config.id2label == dict(enumerate(LABELS))
    pixel_values, labels = torch.randn(4, 1, 48, 48), torch.tensor([0, 3, 6, 3])
    output = model(pixel_values=pixel_values)
    assert isinstance(output, (ImageClassifierOutput, ImageClassifierOutputWithNoAttention)) and output.logits.shape == (4, 7) and output.loss is None
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(2):
        loss = model(pixel_values=pixel_values, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert torch.isfinite(loss)


@pytest.mark.parametrize("name", STUDY_MODELS + ["sepnet"])
def test_round_trip_in_fresh_process(name, tmp_path, astronaut_png):
    model = create_model(name).eval()
    folder = tmp_path / name
    save_checkpoint(model, image_processor_for(model), folder)
    saved = {p.name for p in folder.iterdir()}
    assert "model.safetensors" in saved and not any(p.endswith((".bin", ".pt", ".pkl")) for p in saved)
    inputs = torch.randn(2, 1, 48, 48)
    np.save(folder / "input.npy", inputs.numpy())
    with torch.no_grad():
        expected = model(pixel_values=inputs).logits

    run = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(folder), str(astronaut_png)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["class"] == type(model).__name__
    torch.testing.assert_close(torch.tensor(result["logits"]), expected, rtol=1e-4, atol=1e-5)
    assert sorted(entry["label"] for entry in result["pipeline"]) == sorted(LABELS)
    assert sum(entry["score"] for entry in result["pipeline"]) == pytest.approx(1.0, abs=1e-4)
