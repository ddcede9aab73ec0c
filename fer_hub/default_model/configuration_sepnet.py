"""Configuration of SepNet, the compact CPU-first model (a wider mini-Xception)."""

from transformers import PreTrainedConfig


class FerSepNetConfig(PreTrainedConfig):
    """A 3x3 stem (`stem_channels`, the second conv strided), then one residual stage per entry of
    `stage_channels`: `convs_per_stage` depthwise-separable convs + 3x3/2 max-pool beside a strided
    1x1 shortcut; global average pooling, dropout, classifier."""

    model_type = "fer_sepnet"

    def __init__(
        self,
        num_channels: int = 1,
        image_size: int = 48,
        stem_channels: list[int] | None = None,
        stage_channels: list[int] | None = None,
        convs_per_stage: int = 2,
        dropout: float = 0.1,
        **kwargs,
    ):
        self.num_channels = num_channels
        self.image_size = image_size
        self.stem_channels = stem_channels or [16, 32]
        self.stage_channels = stage_channels or [96, 192, 384]
        self.convs_per_stage = convs_per_stage
        self.dropout = dropout
        super().__init__(**kwargs)
