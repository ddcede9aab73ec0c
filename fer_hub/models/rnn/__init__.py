from .configuration_rnn import FerRnnConfig
from .modeling_rnn import FerRnnForImageClassification

__all__ = ["FerRnnConfig", "FerRnnForImageClassification"]
