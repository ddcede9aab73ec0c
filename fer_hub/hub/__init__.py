"""Publishing to the Hugging Face Hub: pushing model folders and the Space, model cards, upload checks."""
