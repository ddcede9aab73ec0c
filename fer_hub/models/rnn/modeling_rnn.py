"""The study's RNN: BiLSTM(64, sequences) -> BiLSTM(64) -> Dense 64 -> num_labels, rows as time steps."""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import ImageClassifierOutput

from .configuration_rnn import FerRnnConfig


class FerRnnForImageClassification(PreTrainedModel):
    config_class = FerRnnConfig
    base_model_prefix = "rnn"
    main_input_name = "pixel_values"

    def __init__(self, config: FerRnnConfig):
        super().__init__(config)
        self.lstm = nn.LSTM(
            input_size=config.num_channels * config.image_size,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout,
            bidirectional=True,
            batch_first=True,
        )
        self.dense = nn.Sequential(nn.Linear(2 * config.hidden_size, config.dense_size), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(config.dense_size, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None) -> ImageClassifierOutput:
        batch, channels, height, width = pixel_values.shape
        rows = pixel_values.permute(0, 2, 1, 3).reshape(batch, height, channels * width)
        _, (final_states, _) = self.lstm(rows)
        last_forward, last_backward = final_states[-2], final_states[-1]
        logits = self.classifier(self.dense(torch.cat([last_forward, last_backward], dim=-1)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)
