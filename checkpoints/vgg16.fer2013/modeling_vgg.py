"""VGG16-BN for facial expressions: 13 conv+BN layers in 5 blocks, then 2 x Dense 4096 with dropout.

48x48 input -> five 2x2 pools -> 1x1x512 -> 4096 -> 4096 -> num_labels.
`FerVggModel` is everything up to the last Dense 4096 features; `FerVggForImageClassification` adds dropout and
the classifier.
"""

import itertools

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndNoAttention, ImageClassifierOutputWithNoAttention

from .configuration_vgg import FerVggConfig


class FerVggConvLayer(nn.Module):
    """A padded 3x3 convolution, batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return self.activation(self.normalization(self.convolution(hidden_state)))


class FerVggBlock(nn.Module):
    """Conv layers then a 2x2 max-pool."""

    def __init__(self, in_channels: int, channels: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(
            FerVggConvLayer(previous, out_channels)
            for previous, out_channels in zip([in_channels, *channels], channels)
        )
        self.pooler = nn.MaxPool2d(2)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            hidden_state = layer(hidden_state)
        return self.pooler(hidden_state)


class FerVggPreTrainedModel(PreTrainedModel):
    config_class = FerVggConfig
    base_model_prefix = "vgg"
    main_input_name = "pixel_values"
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer must not rescale it

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, std=0.01)
            init.zeros_(module.bias)


class FerVggModel(FerVggPreTrainedModel):
    """The conv blocks and the dense layers: `last_hidden_state` is the last block's feature map, `hidden_states`
    every block's, `pooler_output` the last dense layer's features (`num_features` of them)."""

    def __init__(self, config: FerVggConfig):
        super().__init__(config)
        channels = [config.num_channels] + [block[-1] for block in config.block_channels]
        self.blocks = nn.ModuleList(
            FerVggBlock(in_channels, block) for in_channels, block in zip(channels, config.block_channels)
        )
        side = config.image_size // 2 ** len(config.block_channels)
        widths = [channels[-1] * side * side] + [config.hidden_size] * config.num_dense_layers
        self.dense = nn.ModuleList(nn.Linear(width, out_width) for width, out_width in itertools.pairwise(widths))
        self.activation = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(config.dropout)  # between dense layers; the head applies it after the last
        self.num_features = widths[-1]
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
        pooled = hidden_state.flatten(1)
        for index, dense in enumerate(self.dense):
            pooled = self.activation(dense(self.dropout(pooled) if index else pooled))
        output = BaseModelOutputWithPoolingAndNoAttention(
            last_hidden_state=hidden_state,
            pooler_output=pooled,
            hidden_states=hidden_states if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()


class FerVggForImageClassification(FerVggPreTrainedModel):
    def __init__(self, config: FerVggConfig):
        super().__init__(config)
        self.vgg = FerVggModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(self.vgg.num_features, config.num_labels)
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
        outputs = self.vgg(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = self.loss_function(labels, logits, self.config) if labels is not None else None
        output = ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return output if return_dict else output.to_tuple()
