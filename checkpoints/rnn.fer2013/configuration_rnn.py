"""Configuration of the study's BiLSTM over pixel rows."""

from transformers import PreTrainedConfig


class FerRnnConfig(PreTrainedConfig):
    """Each image row is a time step of `image_size` features: `num_layers` stacked BiLSTMs of
    `hidden_size` units, the last one's final states -> Dense(`dense_size`) + ReLU -> classifier."""

    model_type = "fer_rnn"

    def __init__(
        self,
        num_channels: int = 1,
        image_size: int = 48,
        hidden_size: int = 64,
        num_layers: int = 2,
        dense_size: int = 64,
        dropout: float = 0.0,
        **kwargs,
    ):
        self.num_channels = num_channels
        self.image_size = image_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dense_size = dense_size
        self.dropout = dropout
        super().__init__(**kwargs)
