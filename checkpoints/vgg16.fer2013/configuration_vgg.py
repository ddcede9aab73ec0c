"""Configuration of VGG16-BN sized for small grayscale faces."""

from transformers import PreTrainedConfig


class FerVggConfig(PreTrainedConfig):
    """VGG with batch norm: `block_channels[i]` convs per block (3x3, BN, ReLU), 2x2 max-pool after
    each block, then `num_dense_layers` x Dense(`hidden_size`) + Dropout, then the classifier."""

    model_type = "fer_vgg"

    def __init__(
        self,
        num_channels: int = 1,
        image_size: int = 48,
        block_channels: list[list[int]] | None = None,
        hidden_size: int = 4096,
        num_dense_layers: int = 2,
        dropout: float = 0.5,
        **kwargs,
    ):
        self.num_channels = num_channels
        self.image_size = image_size
        self.block_channels = block_channels or [
            [64, 64],
            [128, 128],
            [256, 256, 256],
            [512, 512, 512],
            [512, 512, 512],
        ]
        self.hidden_size = hidden_size
        self.num_dense_layers = num_dense_layers
        self.dropout = dropout
        super().__init__(**kwargs)
