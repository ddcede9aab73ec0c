"""The study's RNN: BiLSTM(64, sequences) -> BiLSTM(64) -> Dense 64 -> num_labels, rows as time steps.

`FerRnnModel` is everything up to the Dense 64 features; `FerRnnForImageClassification` adds the classifier.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndNoAttention, ImageClassifierOutputWithNoAttention

from .configuration_rnn import FerRnnConfig


class FerRnnPreTrainedModel(PreTrainedModel):
    """Weights start as transformers initialises them: Xavier-uniform LSTM weights, normal dense weights,
    zero biases."""

    config_class = FerRnnConfig
    base_model_prefix = "rnn"
    main_input_name = "pixel_values"
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer must not rescale it


class FerRnnModel(FerRnnPreTrainedModel):
    """Stacked BiLSTMs over the image rows, one layer per module so each layer's outputs can be returned:
    `last_hidden_state` is the last layer's output at every row (batch, rows, 2 * hidden_size), `hidden_states`
    every layer's, `pooler_output` the Dense features of the last layer's final forward and backward states."""

    def __init__(self, config: FerRnnConfig):
        super().__init__(config)
        input_sizes = [config.num_channels * config.image_size] + [2 * config.hidden_size] * (config.num_layers - 1)
        self.layers = nn.ModuleList(
            nn.LSTM(input_size, config.hidden_size, bidirectional=True, batch_first=True) for input_size in input_sizes
        )
        self.dropout = nn.Dropout(config.dropout)  # between layers, where nn.LSTM(dropout=...) puts it
        self.dense = nn.Linear(2 * config.hidden_size, config.dense_size)
        self.activation = nn.ReLU(inplace=True)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPoolingAndNoAttention | tuple:
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        batch, channels, height, width = pixel_values.shape
        hidden_state = pixel_values.permute(0, 2, 1, 3).reshape(batch, height, channels * width)
        hidden_states = ()
        for index, layer in enumerate(self.layers):
            if index:
                hidden_state = self.dropout(hidden_state)
            hidden_state, (final_states, _) = layer(hidden_state)
            hidden_states += (hidden_state,)
        last_forward, last_backward = final_states[0], final_states[1]
        pooled = self.activation(self.dense(torch.cat([last_forward, last_backward], dim=-1)))
        output = BaseModelOutputWithPoolingAndNoAttention(
            last_hidden_state=hidden_state,
            pooler_output=pooled,
            hidden_states=hidden_states if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()


class FerRnnForImageClassification(FerRnnPreTrainedModel):
    def __init__(self, config: FerRnnConfig):
        super().__init__(config)
        self.rnn = FerRnnModel(config)
        self.classifier = nn.Linear(config.dense_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> ImageClassifierOutputWithNoAttention | tuple:
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.rnn(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(outputs.pooler_output)
        loss = self.loss_function(labels, logits, self.config) if labels is not None else None
        output = ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return output if return_dict else output.to_tuple()
