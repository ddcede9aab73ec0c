"""Training a registry architecture with transformers' Trainer: recipes, run folders, the training steps."""
