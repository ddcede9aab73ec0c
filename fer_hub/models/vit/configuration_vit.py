"""Configuration of fer-hub's ViT: transformers' ViT with a small convolutional stem before the patch tokens."""

from transformers import ViTConfig

SHIPPED = {  # the zoo's vit: 48x48 gray faces, 6x6 tokens of 192, 6 layers
    "image_size": 48,
    "patch_size": 8,
    "num_channels": 1,
    "hidden_size": 192,
    "num_hidden_layers": 6,
    "num_attention_heads": 3,
    "intermediate_size": 768,
    "hidden_dropout_prob": 0.1,
}


class FerViTConfig(ViTConfig):
    """transformers' `ViTConfig` plus `stem_channels`: one 3x3 stride-2 convolution + batch norm + GELU per entry
    before the patch projection (early convolutions, Xiao et al. 2021). `patch_size` stays the stride from pixels to
    tokens: the stem takes a factor 2 per convolution, the projection the rest. The defaults are the shipped model
    (SHIPPED and a 32-64-128 stem); any ViTConfig field overrides them."""

    model_type = "fer_vit"

    def __init__(self, stem_channels: list[int] | None = None, **kwargs):
        self.stem_channels = [32, 64, 128] if stem_channels is None else list(stem_channels)
        super().__init__(**{**SHIPPED, **kwargs})
        stride = 2 ** len(self.stem_channels)
        if self.patch_size % stride:
            raise ValueError(f"patch_size {self.patch_size} is not a multiple of the stem's stride {stride}")
