"""SepNet: a compact residual depthwise-separable CNN for fast CPU inference on 48x48 faces.

stem: conv3x3 -> BN-ReLU -> conv3x3/2 -> BN-ReLU          (48 -> 24)
stage x3: [sepconv -> BN-ReLU] x n, maxpool 3x3/2  +  conv1x1/2 -> BN shortcut   (24 -> 12 -> 6 -> 3)
head: global average pool -> dropout -> linear
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_sepnet import FerSepNetConfig


def conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def separable_conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ResidualStage(nn.Module):
    """Separable convs then a strided max-pool, added to a strided 1x1 projection of the input."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int):
        super().__init__()
        convs = [separable_conv_bn_relu(in_channels, out_channels)]
        convs += [separable_conv_bn_relu(out_channels, out_channels) for _ in range(num_convs - 1)]
        self.body = nn.Sequential(*convs, nn.MaxPool2d(3, stride=2, padding=1))
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False), nn.BatchNorm2d(out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class FerSepNetForImageClassification(PreTrainedModel):
    config_class = FerSepNetConfig
    base_model_prefix = "sepnet"
    main_input_name = "pixel_values"

    def __init__(self, config: FerSepNetConfig):
        super().__init__(config)
        first, second = config.stem_channels
        self.stem = nn.Sequential(conv_bn_relu(config.num_channels, first), conv_bn_relu(first, second, stride=2))
        stages, channels = [], second
        for out_channels in config.stage_channels:
            stages.append(ResidualStage(channels, out_channels, config.convs_per_stage))
            channels = out_channels
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(channels, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None) -> ImageClassifierOutput:
        features = self.stages(self.stem(pixel_values))
        logits = self.classifier(self.dropout(features.mean(dim=(2, 3))))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)
