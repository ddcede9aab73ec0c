"""The study's custom CNN: Conv32-Conv64-Conv128 (3x3, ReLU, 2x2 max-pool), Dense 1024, Dropout 0.5.

48x48 -> conv 46 -> pool 23 -> conv 21 -> pool 10 -> conv 8 -> pool 4: 128*4*4 features -> 1024 -> num_labels.
`FerCnnModel` is everything up to the 1024 features; `FerCnnForImageClassification` adds dropout and the classifier.
"""

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndNoAttention, ImageClassifierOutputWithNoAttention

from .configuration_cnn import FerCnnConfig


class FerCnnBlock(nn.Module):
    """An unpadded convolution, ReLU, then a 2x2 max-pool."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.activation = nn.ReLU(inplace=True)
        self.pooler = nn.MaxPool2d(2)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return self.pooler(self.activation(self.convolution(hidden_state)))


class FerCnnPreTrainedModel(PreTrainedModel):
    config_class = FerCnnConfig
    base_model_prefix = "cnn"
    main_input_name = "pixel_values"
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer must not rescale it

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            init.kaiming_uniform_(module.weight, nonlinearity="relu")


class FerCnnModel(FerCnnPreTrainedModel):
    """The convolution blocks and the dense layer: `pooler_output` is the `hidden_size` features of each image,
    `last_hidden_state` the last block's feature map, `hidden_states` every block's."""

    def __init__(self, config: FerCnnConfig):
        super().__init__(config)
        blocks, channels, side = [], config.num_channels, config.image_size
        for out_channels in config.conv_channels:
            blocks.append(FerCnnBlock(channels, out_channels, config.kernel_size))
            channels, side = out_channels, (side - config.kernel_size + 1) // 2
        self.blocks = nn.ModuleList(blocks)
        self.dense = nn.Linear(channels * side * side, config.hidden_size)
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
        hidden_state, hidden_states = pixel_values, ()
        for block in self.blocks:
            hidden_state = block(hidden_state)
            hidden_states += (hidden_state,)
        pooled = self.activation(self.dense(hidden_state.flatten(1)))
        output = BaseModelOutputWithPoolingAndNoAttention(
            last_hidden_state=hidden_state,
            pooler_output=pooled,
            hidden_states=hidden_states if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()


class FerCnnForImageClassification(FerCnnPreTrainedModel):
    def __init__(self, config: FerCnnConfig):
        super().__init__(config)
        self.cnn = FerCnnModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
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
        outputs = self.cnn(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = self.loss_function(labels, logits, self.config) if labels is not None else None
        output = ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return output if return_dict else output.to_tuple()
