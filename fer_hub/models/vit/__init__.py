from .configuration_vit import FerViTConfig
from .modeling_vit import FerViTForImageClassification, FerViTModel, FerViTPreTrainedModel

__all__ = ["FerViTConfig", "FerViTForImageClassification", "FerViTModel", "FerViTPreTrainedModel"]
