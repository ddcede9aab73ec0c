"""fer-hub's ViT: transformers' ViT whose patch tokens come from a small convolutional stem.

48x48 gray -> three 3x3 stride-2 convolutions (32, 64, 128 channels) -> 6x6 -> a 1x1 projection to 192 -> 36 patch
tokens + the class token -> 6 transformer layers -> the class token's features -> num_labels. Everything after the
patch embeddings is transformers' `ViTModel` / `ViTForImageClassification`; `stem_channels: []` is transformers' ViT.
"""

import torch
from torch import nn
from transformers import ViTForImageClassification, ViTModel, ViTPreTrainedModel

from .configuration_vit import FerViTConfig


class FerViTPatchEmbeddings(nn.Module):
    """The stem's convolutions, then `projection` (a convolution whose kernel is its stride) to `hidden_size`:
    (batch, channels, height, width) -> (batch, tokens, hidden_size)."""

    def __init__(self, config: FerViTConfig):
        super().__init__()
        layers, channels = [], config.num_channels
        for out_channels in config.stem_channels:
            layers += [
                nn.Conv2d(channels, out_channels, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.GELU(),
            ]
            channels = out_channels
        self.stem = nn.Sequential(*layers)
        side = config.patch_size // 2 ** len(config.stem_channels)
        self.projection = nn.Conv2d(channels, config.hidden_size, kernel_size=side, stride=side)
        self.image_size = (config.image_size, config.image_size)
        self.patch_size = (config.patch_size, config.patch_size)
        self.num_patches = (config.image_size // config.patch_size) ** 2
        self.num_channels = config.num_channels

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.projection(self.stem(pixel_values)).flatten(2).transpose(1, 2)


class FerViTPreTrainedModel(ViTPreTrainedModel):
    config_class = FerViTConfig
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer must not rescale it


class FerViTModel(FerViTPreTrainedModel, ViTModel):
    """transformers' `ViTModel` with the convolutional stem's patch embeddings."""

    def __init__(self, config: FerViTConfig, add_pooling_layer: bool = True, use_mask_token: bool = False):
        super().__init__(config, add_pooling_layer=add_pooling_layer, use_mask_token=use_mask_token)
        self.embeddings.patch_embeddings = FerViTPatchEmbeddings(config)
        self.post_init()


class FerViTForImageClassification(FerViTPreTrainedModel, ViTForImageClassification):
    """transformers' `ViTForImageClassification` (a linear classifier on the class token) over `FerViTModel`."""

    def __init__(self, config: FerViTConfig):
        super().__init__(config)
        self.vit = FerViTModel(config, add_pooling_layer=False)
        self.post_init()
