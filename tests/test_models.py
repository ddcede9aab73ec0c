"""The zoo: every architecture builds, trains a step, has the transformers shape (a backbone under
`base_model_prefix` that AutoModel loads, returning pooled features and hidden states), and round-trips through
save_pretrained to the Auto classes and pipeline() in a fresh Python process that never imports fer_hub."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, ResNetForImageClassification, ViTConfig, ViTForImageClassification
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndNoAttention,
    ImageClassifierOutput,
    ImageClassifierOutputWithNoAttention,
)

from fer_hub import LABELS, create_model, image_processor_for, list_models, save_checkpoint
from fer_hub.errors import FerHubError
from fer_hub.models.registry import MODELS

STUDY_MODELS = ["vgg16", "resnet101", "cnn", "rnn", "vit"]
CUSTOM_MODELS = [name for name, entry in MODELS.items() if entry.is_custom]
OWN_FAMILIES = [name for name in CUSTOM_MODELS if name != "vit"]  # vit subclasses transformers' ViT classes
SMALL = {"vgg16": {"hidden_size": 64}, "resnet101": {"depths": [1, 1, 1, 1]}}  # quick to build, same structure

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys
    sys.modules["fer_hub"] = None  # any attempt to import fer_hub fails
    import numpy as np, torch
    from PIL import Image
    from transformers import AutoModelForImageClassification, pipeline
    folder, photo = sys.argv[1], sys.argv[2]
    from transformers import AutoModel
    model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
    backbone = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    pixel_values = torch.from_numpy(np.load(folder + "/input.npy"))
    with torch.no_grad():
        logits = model(pixel_values=pixel_values).logits
        features = backbone(pixel_values=pixel_values)
    classify = pipeline("image-classification", model=folder, trust_remote_code=True)
    print(json.dumps({"class": type(model).__name__, "backbone": type(backbone).__name__, "logits": logits.tolist(),
                      "last_hidden_state": features.last_hidden_state.tolist(),
                      "pooled": features.pooler_output.flatten(1).tolist(),
                      "pipeline": classify(Image.open(photo), top_k=7)}))
    """
)


def test_list_models_has_the_study_five_and_sepnet():
    assert list_models() == [*STUDY_MODELS, "sepnet"]
    with pytest.raises(FerHubError, match="unknown model 'vgg19'; choose one of: vgg16, resnet101"):
        create_model("vgg19")


def test_transformers_own_resnet_and_vit_are_used():
    resnet, vit = create_model("resnet101"), create_model("vit")
    assert isinstance(resnet, ResNetForImageClassification) and resnet.config.depths == [3, 4, 23, 3]
    assert resnet.config.layer_type == "bottleneck" and resnet.config.num_channels == 1
    assert isinstance(vit, ViTForImageClassification) and vit.config.image_size == 48 and vit.config.num_channels == 1


def test_vit_is_a_vision_transformer_over_a_convolutional_stem():
    """Patch tokens from a 3-convolution stem (6x6 of them), a class token, transformers' encoder; without a stem
    it is transformers' ViT, tensor for tensor."""
    vit = create_model("vit").eval()
    stem = [m for m in vit.vit.embeddings.patch_embeddings.stem if isinstance(m, torch.nn.Conv2d)]
    assert [(conv.out_channels, conv.stride) for conv in stem] == [(32, (2, 2)), (64, (2, 2)), (128, (2, 2))]
    with torch.no_grad():
        output = vit.vit(torch.randn(2, 1, 48, 48))
    assert output.last_hidden_state.shape == (2, 1 + 6 * 6, 192)  # the class token, then 36 patch tokens
    assert vit.config.num_hidden_layers == 6 and len(vit.vit.layers) == 6

    settings = {"image_size": 48, "patch_size": 4, "num_channels": 1, "hidden_size": 32, "num_hidden_layers": 1}
    settings |= {"num_attention_heads": 2, "intermediate_size": 64, "num_labels": 7}
    plain = create_model("vit", **settings, stem_channels=[]).eval()
    reference = ViTForImageClassification(ViTConfig(**settings)).eval()
    assert plain.state_dict().keys() == reference.state_dict().keys()
    reference.load_state_dict(plain.state_dict())
    pixel_values = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(plain(pixel_values).logits, reference(pixel_values).logits)
    with pytest.raises(ValueError, match="patch_size 6 is not a multiple of the stem's stride 8"):
        create_model("vit", patch_size=6)


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
    lstms = [m for m in rnn.modules() if isinstance(m, torch.nn.LSTM)]
    assert len(lstms) == 2 and all(lstm.bidirectional and lstm.hidden_size == 64 for lstm in lstms)
    assert [lstm.input_size for lstm in lstms] == [48, 128]
    assert [m.out_features for m in rnn.modules() if isinstance(m, torch.nn.Linear)] == [64, 7]


@pytest.mark.parametrize("name", list_models())
def test_forward_returns_logits_and_loss(name):
    model = create_model(name, **SMALL.get(name, {}))
    assert model.config.id2label == dict(enumerate(LABELS))
    pixel_values, labels = torch.randn(4, 1, 48, 48), torch.tensor([0, 3, 6, 3])
    output = model(pixel_values=pixel_values)
    assert (
        isinstance(output, (ImageClassifierOutput, ImageClassifierOutputWithNoAttention))
        and output.logits.shape == (4, 7)
        and output.loss is None
    )
    assert torch.isfinite(model(pixel_values=pixel_values, labels=labels).loss)


TINY = {  # each architecture at a size that trains in seconds
    "vgg16": {"block_channels": [[16], [16], [32], [32], [32]], "hidden_size": 64, "dropout": 0.0},
    "resnet101": {"depths": [1, 1, 1, 1], "hidden_sizes": [16, 16, 32, 32], "embedding_size": 8},
    "cnn": {"conv_channels": [8, 8, 16], "hidden_size": 32, "dropout": 0.0},
    "vit": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64},
    "sepnet": {"stem_channels": [8, 8], "stage_channels": [16, 16, 16]},
}


@pytest.mark.parametrize("name", list_models())
def test_learns_a_fixed_batch(name):
    """40 Adam steps on 8 fixed images: the training loss falls to under half its start (it reaches about a third
    for vgg16, the slowest, and under a sixth for the others)."""
    torch.manual_seed(0)
    model = create_model(name, **TINY.get(name, {})).train()
    pixel_values, labels = torch.randn(8, 1, 48, 48), torch.arange(8) % 7
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model(pixel_values=pixel_values, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], [round(value, 3) for value in losses[::8]]


@pytest.mark.slow
@pytest.mark.parametrize("name", [*STUDY_MODELS, "sepnet"])
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
        features = model.base_model(pixel_values=inputs)

    run = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(folder), str(astronaut_png)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["class"] == type(model).__name__
    assert result["backbone"] == type(model.base_model).__name__
    torch.testing.assert_close(torch.tensor(result["logits"]), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        torch.tensor(result["last_hidden_state"]), features.last_hidden_state, rtol=1e-4, atol=1e-5
    )
    if name in OWN_FAMILIES:  # transformers' ViT classifier has no pooler: AutoModel adds a fresh one
        torch.testing.assert_close(torch.tensor(result["pooled"]), features.pooler_output, rtol=1e-4, atol=1e-5)
    assert sorted(entry["label"] for entry in result["pipeline"]) == sorted(LABELS)
    assert sum(entry["score"] for entry in result["pipeline"]) == pytest.approx(1.0, abs=1e-4)


HIDDEN_STATES = {"vgg16": 5, "cnn": 3, "rnn": 2, "sepnet": 4}  # blocks; layers; stem + stages


@pytest.mark.parametrize("name", OWN_FAMILIES)
def test_custom_model_has_the_transformers_shape(name):
    model = create_model(name, **SMALL.get(name, {})).eval()
    entry = MODELS[name]
    backbone = getattr(model, type(model).base_model_prefix)
    assert model.base_model is backbone and type(backbone) is entry.backbone_class
    shared_base = type(model).__mro__[1]  # Fer<X>PreTrainedModel: config class, prefix, weight init
    assert shared_base.__name__.endswith("PreTrainedModel") and isinstance(backbone, shared_base)
    assert model.accepts_loss_kwargs is False  # Trainer must not rescale the per-batch mean loss
    pixel_values, labels = torch.randn(3, 1, 48, 48), torch.tensor([0, 3, 6])

    with torch.no_grad():
        features = backbone(pixel_values, output_hidden_states=True)
        output = model(pixel_values, labels=labels, output_hidden_states=True)
        as_tuple = model(pixel_values, return_dict=False)
    assert isinstance(features, BaseModelOutputWithPoolingAndNoAttention)
    assert features.pooler_output.shape == (3, model.classifier.in_features)
    assert len(features.hidden_states) == HIDDEN_STATES[name]
    assert features.hidden_states[-1] is features.last_hidden_state
    assert isinstance(output, ImageClassifierOutputWithNoAttention) and len(output.hidden_states) == HIDDEN_STATES[name]
    torch.testing.assert_close(output.logits, model.classifier(features.pooler_output))  # the head: one linear layer
    torch.testing.assert_close(output.loss, F.cross_entropy(output.logits, labels))
    assert isinstance(as_tuple, tuple) and torch.equal(as_tuple[0], output.logits)
    assert model(pixel_values).hidden_states is None


@pytest.mark.parametrize("name", CUSTOM_MODELS)
def test_saved_folder_maps_every_auto_class_and_auto_model_loads_the_backbone(name, tmp_path):
    model = create_model(name, **SMALL.get(name, {})).eval()
    save_checkpoint(model, image_processor_for(model), tmp_path)
    entry = MODELS[name]
    module = entry.model_class.__module__.rsplit(".", 1)[-1]
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": f"{entry.config_class.__module__.rsplit('.', 1)[-1]}.{entry.config_class.__name__}",
        "AutoModel": f"{module}.{entry.backbone_class.__name__}",
        "AutoModelForImageClassification": f"{module}.{entry.model_class.__name__}",
    }

    backbone = AutoModel.from_pretrained(tmp_path, trust_remote_code=False).eval()  # fer-hub's own, installed class
    assert type(backbone) is entry.backbone_class
    for key, tensor in model.base_model.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], tensor), key
