from .configuration_cnn import FerCnnConfig
from .modeling_cnn import FerCnnForImageClassification, FerCnnModel, FerCnnPreTrainedModel

__all__ = ["FerCnnConfig", "FerCnnForImageClassification", "FerCnnModel", "FerCnnPreTrainedModel"]
