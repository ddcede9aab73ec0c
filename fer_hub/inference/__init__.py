"""Faces in images -> class probabilities: the face detector, the one classification path, ONNX runtime."""
