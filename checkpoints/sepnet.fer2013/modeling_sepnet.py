"""SepNet: a compact residual depthwise-separable CNN for fast CPU inference on 48x48 faces.

stem: conv3x3 -> BN-ReLU -> conv3x3/2 -> BN-ReLU          (48 -> 24)
stage x3: [sepconv -> BN-ReLU] x n, maxpool 3x3/2  +  conv1x1/2 -> BN shortcut   (24 -> 12 -> 6 -> 3)
pooler: global average pool                               (`FerSepNetModel` ends here)
head: dropout -> linear                                   (`FerSepNetForImageClassification`)
"""

import itertools

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPoolingAndNoAttention, ImageClassifierOutputWithNoAttention

from .configuration_sepnet import FerSepNetConfig


class FerSepNetConvLayer(nn.Module):
    """A 3x3 convolution, batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return self.activation(self.normalization(self.convolution(hidden_state)))


class FerSepNetSeparableConvLayer(nn.Module):
    """A depthwise 3x3 then a pointwise 1x1 convolution, batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return self.activation(self.normalization(self.pointwise(self.depthwise(hidden_state))))


class FerSepNetShortcut(nn.Module):
    """A strided 1x1 projection and batch norm: the residual branch of a stage."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        return self.normalization(self.convolution(hidden_state))


class FerSepNetStage(nn.Module):
    """Separable convs then a strided max-pool, added to a strided 1x1 projection of the input."""

    def __init__(self, in_channels: int, out_channels: int, num_convs: int):
        super().__init__()
        self.layers = nn.ModuleList(
            FerSepNetSeparableConvLayer(in_channels if index == 0 else out_channels, out_channels)
            for index in range(num_convs)
        )
        self.pooler = nn.MaxPool2d(3, stride=2, padding=1)
        self.shortcut = FerSepNetShortcut(in_channels, out_channels)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut(hidden_state)
        for layer in self.layers:
            hidden_state = layer(hidden_state)
        return self.pooler(hidden_state) + residual


class FerSepNetPreTrainedModel(PreTrainedModel):
    config_class = FerSepNetConfig
    base_model_prefix = "sepnet"
    main_input_name = "pixel_values"
    accepts_loss_kwargs = False  # the loss is a per-batch mean: Trainer must not rescale it

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")


class FerSepNetModel(FerSepNetPreTrainedModel):
    """The stem and the stages: `last_hidden_state` is the last stage's feature map, `pooler_output` its global
    average (batch, channels), `hidden_states` the stem's output then every stage's."""

    def __init__(self, config: FerSepNetConfig):
        super().__init__(config)
        first, second = config.stem_channels
        self.stem = nn.Sequential(
            FerSepNetConvLayer(config.num_channels, first), FerSepNetConvLayer(first, second, stride=2)
        )
        channels = [second, *config.stage_channels]
        self.stages = nn.ModuleList(
            FerSepNetStage(in_channels, out_channels, config.convs_per_stage)
            for in_channels, out_channels in itertools.pairwise(channels)
        )
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
        hidden_state = self.stem(pixel_values)
        hidden_states = (hidden_state,)
        for stage in self.stages:
            hidden_state = stage(hidden_state)
            hidden_states += (hidden_state,)
        output = BaseModelOutputWithPoolingAndNoAttention(
            last_hidden_state=hidden_state,
            pooler_output=hidden_state.mean(dim=(2, 3)),
            hidden_states=hidden_states if output_hidden_states else None,
        )
        return output if return_dict else output.to_tuple()


class FerSepNetForImageClassification(FerSepNetPreTrainedModel):
    def __init__(self, config: FerSepNetConfig):
        super().__init__(config)
        self.sepnet = FerSepNetModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.stage_channels[-1], config.num_labels)
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
        outputs = self.sepnet(pixel_values, output_hidden_states=output_hidden_states, return_dict=True)
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = self.loss_function(labels, logits, self.config) if labels is not None else None
        output = ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=outputs.hidden_states)
        return output if return_dict else output.to_tuple()
