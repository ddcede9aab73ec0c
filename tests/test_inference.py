"""EmotionRecognizer: faces -> crops -> one batched forward; scores, labels, test-time flip, model cache."""

import numpy as np
import pytest
from PIL import Image

from fer_hub.errors import FerHubError
from fer_hub.inference.classifier import ModelClassifier, load_classifier
from fer_hub.inference.faces import FaceDetector
from fer_hub.inference.recognizer import EmotionRecognizer, Face, count_faces, get_recognizer
from fer_hub.labels import LABELS
from fer_hub.models.image_processing_fer import FerImageProcessor


class RecordingClassifier:
    """A stand-in classifier: records its inputs; the logit of class k is k * the mean of column k % 48."""

    def __init__(self):
        self.calls = []

    def __call__(self, pixel_values):
        self.calls.append(pixel_values.copy())
        columns = pixel_values[:, 0].mean(axis=1)  # (N, 48)
        return np.stack([k * columns[:, k] for k in range(len(LABELS))], axis=1)


@pytest.fixture(scope="module")
def photo(astronaut_png):
    return Image.open(astronaut_png).convert("RGB")


@pytest.fixture
def recording():
    classifier = RecordingClassifier()
    return classifier, EmotionRecognizer(
        ModelClassifier(classifier, FerImageProcessor().face_pixels()), FaceDetector(max_side=1024)
    )


def test_all_faces_go_through_one_forward(recording, photo):
    classifier, recognizer = recording
    pair = Image.new("RGB", (1024, 512))
    pair.paste(photo, (0, 0))
    pair.paste(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (512, 0))
    faces = recognizer.recognize(pair)
    assert len(faces) == 2 and len(classifier.calls) == 1
    assert classifier.calls[0].shape == (2, 1, 48, 48) and classifier.calls[0].dtype == np.float32


def test_scores_are_the_softmax_of_the_logits(recording, photo):
    classifier, recognizer = recording
    face = recognizer.recognize(photo, whole_image=True)[0]
    logits = RecordingClassifier()(classifier.calls[0])[0]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert list(face.scores) == list(LABELS)
    assert np.allclose(list(face.scores.values()), expected, atol=1e-6)
    assert face.label == LABELS[int(np.argmax(expected))]


def test_test_time_flip_averages_with_the_mirrored_faces(recording, photo):
    classifier, recognizer = recording
    plain = recognizer.recognize(photo, whole_image=True)[0]
    flipped = recognizer.recognize(photo, whole_image=True, tta=True)[0]
    batch = classifier.calls[1]
    assert batch.shape[0] == 2 and np.array_equal(batch[1], batch[0][..., ::-1])
    logits = RecordingClassifier()(batch).mean(axis=0)
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert np.allclose(list(flipped.scores.values()), expected, atol=1e-6)
    assert flipped.scores != plain.scores


def test_whole_image_is_one_face_spanning_it(recording):
    _, recognizer = recording
    faces = recognizer.recognize(Image.new("RGB", (48, 40), "gray"), whole_image=True)
    assert [face.box for face in faces] == [(0, 0, 48, 40)]


def test_no_face_gives_an_empty_list_without_a_forward(recording):
    classifier, recognizer = recording
    assert recognizer.recognize(Image.new("RGB", (320, 240), "gray")) == []
    assert classifier.calls == []


def test_the_embedded_model_labels_the_astronaut(photo):
    recognizer = get_recognizer()
    assert get_recognizer(None) is recognizer  # loaded once
    faces = recognizer.recognize(photo, tta=True)
    assert len(faces) == 1
    scores = faces[0].scores
    assert list(scores) == list(LABELS) and sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert faces[0].label == max(scores, key=scores.get)
    assert faces[0].label == "happy" and scores["happy"] > 0.5  # she smiles broadly


def test_face_json_scales_boxes_to_the_original_image():
    face = Face((10, 20, 30, 40), dict.fromkeys(LABELS, 1 / 7) | {"sad": 0.5})
    assert face.to_dict(scale=2.0) == {"box": [20, 40, 60, 80], "label": "sad", "scores": face.scores}


def test_an_unloadable_model_is_a_clear_error(tmp_path):
    with pytest.raises(FerHubError, match="cannot load a model"):
        load_classifier(tmp_path)


def test_count_faces_wording():
    face = Face((0, 0, 1, 1), dict.fromkeys(LABELS, 1 / 7))
    assert [count_faces([face] * n) for n in (0, 1, 3)] == ["no face found", "1 face found", "3 faces found"]


def test_a_model_with_other_classes_is_refused(tmp_path):
    from fer_hub.models.factory import create_model, image_processor_for, save_checkpoint

    model = create_model("rnn")
    model.config.id2label = dict(enumerate(reversed(LABELS)))
    save_checkpoint(model, image_processor_for(model), tmp_path)
    with pytest.raises(FerHubError, match="not the FER2013 classes"):
        load_classifier(tmp_path)
