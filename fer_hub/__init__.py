"""fer-hub: facial-expression recognition models for transformers, trained on FER2013."""

from .data import load_fer2013
from .image_processing_fer import FerImageProcessor
from .labels import LABELS
from .zoo import create_model, image_processor_for, list_models, register_auto_classes, save_checkpoint

register_auto_classes()

__all__ = [
    "LABELS",
    "FerImageProcessor",
    "create_model",
    "image_processor_for",
    "list_models",
    "load_fer2013",
    "save_checkpoint",
]
