"""Configuration of the study's small custom CNN."""

from transformers import PreTrainedConfig


class FerCnnConfig(PreTrainedConfig):
    """One 3x3 conv + ReLU + 2x2 max-pool per entry of `conv_channels` (unpadded, as in Keras'
    default), then Flatten, Dense(`hidden_size`) + ReLU + Dropout, then the classifier."""

    model_type = "fer_cnn"

    def __init__(
        self,
        num_channels: int = 1,
        image_size: int = 48,
        conv_channels: list[int] | None = None,
        kernel_size: int = 3,
        hidden_size: int = 1024,
        dropout: float = 0.5,
        **kwargs,
    ):
        self.num_channels = num_channels
        self.image_size = image_size
        self.conv_channels = conv_channels or [32, 64, 128]
        self.kernel_size = kernel_size
        self.hidden_size = hidden_size
        self.dropout = dropout
        super().__init__(**kwargs)
