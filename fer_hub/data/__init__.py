"""Loading FER2013 and FER+ data, reading image files, and the training augmentation."""
