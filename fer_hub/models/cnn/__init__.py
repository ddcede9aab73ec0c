from .configuration_cnn import FerCnnConfig
from .modeling_cnn import FerCnnForImageClassification

__all__ = ["FerCnnConfig", "FerCnnForImageClassification"]
