from .configuration_vgg import FerVggConfig
from .modeling_vgg import FerVggForImageClassification

__all__ = ["FerVggConfig", "FerVggForImageClassification"]
