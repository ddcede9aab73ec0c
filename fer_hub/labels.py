"""The seven FER2013 expression classes, in the dataset's label order."""

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
LABEL2ID: dict[str, int] = {name: i for i, name in ID2LABEL.items()}
NO_FERPLUS_LABEL = -1  # the FER+ majority label of a face with no clear majority (see data.ferplus_targets)
