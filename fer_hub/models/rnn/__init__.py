from .configuration_rnn import FerRnnConfig
from .modeling_rnn import FerRnnForImageClassification, FerRnnModel, FerRnnPreTrainedModel

__all__ = ["FerRnnConfig", "FerRnnForImageClassification", "FerRnnModel", "FerRnnPreTrainedModel"]
