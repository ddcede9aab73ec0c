from .configuration_sepnet import FerSepNetConfig
from .modeling_sepnet import FerSepNetForImageClassification

__all__ = ["FerSepNetConfig", "FerSepNetForImageClassification"]
