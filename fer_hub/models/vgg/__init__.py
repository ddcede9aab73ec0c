from .configuration_vgg import FerVggConfig
from .modeling_vgg import FerVggForImageClassification, FerVggModel, FerVggPreTrainedModel

__all__ = ["FerVggConfig", "FerVggForImageClassification", "FerVggModel", "FerVggPreTrainedModel"]
