from .configuration_sepnet import FerSepNetConfig
from .modeling_sepnet import FerSepNetForImageClassification, FerSepNetModel, FerSepNetPreTrainedModel

__all__ = ["FerSepNetConfig", "FerSepNetForImageClassification", "FerSepNetModel", "FerSepNetPreTrainedModel"]
