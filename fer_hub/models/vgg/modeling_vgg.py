"""VGG16-BN for facial expressions: 13 conv+BN layers in 5 blocks, then 2 x Dense 4096 with dropout.

48x48 input -> five 2x2 pools -> 1x1x512 -> 4096 -> 4096 -> num_labels.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_vgg import FerVggConfig


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FerVggForImageClassification(PreTrainedModel):
    config_class = FerVggConfig
    base_model_prefix = "vgg"
    main_input_name = "pixel_values"

    def __init__(self, config: FerVggConfig):
        super().__init__(config)
        layers, channels = [], config.num_channels
        for block in config.block_channels:
            for out_channels in block:
                layers.append(conv_bn_relu(channels, out_channels))
                channels = out_channels
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)

        side = config.image_size // 2 ** len(config.block_channels)
        dense, width = [], channels * side * side
        for _ in range(config.num_dense_layers):
            dense += [nn.Linear(width, config.hidden_size), nn.ReLU(inplace=True), nn.Dropout(config.dropout)]
            width = config.hidden_size
        self.dense = nn.Sequential(nn.Flatten(), *dense)
        self.classifier = nn.Linear(width, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, std=0.01)
            init.zeros_(module.bias)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None) -> ImageClassifierOutput:
        logits = self.classifier(self.dense(self.features(pixel_values)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)
