"""The study's custom CNN: Conv32-Conv64-Conv128 (3x3, ReLU, 2x2 max-pool), Dense 1024, Dropout 0.5.

48x48 -> conv 46 -> pool 23 -> conv 21 -> pool 10 -> conv 8 -> pool 4: 128*4*4 features -> 1024 -> num_labels.
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_cnn import FerCnnConfig


class FerCnnForImageClassification(PreTrainedModel):
    config_class = FerCnnConfig
    base_model_prefix = "cnn"
    main_input_name = "pixel_values"

    def __init__(self, config: FerCnnConfig):
        super().__init__(config)
        layers, channels, side = [], config.num_channels, config.image_size
        for out_channels in config.conv_channels:
            layers += [nn.Conv2d(channels, out_channels, config.kernel_size), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels, side = out_channels, (side - config.kernel_size + 1) // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.dense = nn.Sequential(
            nn.Linear(channels * side * side, config.hidden_size), nn.ReLU(inplace=True), nn.Dropout(config.dropout)
        )
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            init.kaiming_uniform_(module.weight, nonlinearity="relu")

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None) -> ImageClassifierOutput:
        logits = self.classifier(self.dense(self.features(pixel_values)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)
