"""`fer-hub predict`: per image the faces with box, label and scores; bad images reported, others kept."""

import json
import shutil

import pytest

from fer_hub.cli.main import main
from fer_hub.labels import LABELS


def test_text_output_lists_each_face(astronaut_png, capsys):
    assert main(["predict", str(astronaut_png)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{astronaut_png}: 1 face found"
    assert out[1].startswith("  face 1 box [") and all(name in out[1] for name in LABELS)


def test_json_output_and_a_bad_image_among_good_ones(astronaut_png, bad_images, capsys):
    notes, _ = bad_images["notes.txt"]
    assert main(["predict", "--json", "--tta", str(astronaut_png), str(notes), str(astronaut_png)]) == 2
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [result.get("error", False) for result in results] == [False, True, False]
    for result in (results[0], results[2]):
        (face,) = result["faces"]
        assert len(face["box"]) == 4 and list(face["scores"]) == list(LABELS)
        assert face["label"] == max(face["scores"], key=face["scores"].get)
    assert str(notes) in results[1]["message"]
    assert f"error: {notes}: not a readable image" in captured.err
    assert "1 of 3 images could not be read" in captured.err and "Traceback" not in captured.err


def test_no_face_suggests_whole_image_which_classifies_the_crop(tmp_path, capsys):
    from PIL import Image

    from fer_hub.cli.predict import NO_FACE_HINT

    crop = tmp_path / "crop.png"
    Image.new("L", (48, 48), 128).save(crop)
    assert main(["predict", str(crop)]) == 0
    assert capsys.readouterr().out == f"{crop}: no face found ({NO_FACE_HINT})\n"
    assert main(["predict", "--whole-image", "--json", str(crop)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert [face["box"] for face in result["faces"]] == [[0, 0, 48, 48]]


def test_an_unknown_model_is_a_clear_error(astronaut_png, tmp_path, capsys):
    assert main(["predict", "--model", str(tmp_path / "missing"), str(astronaut_png)]) == 2
    err = capsys.readouterr().err
    assert "cannot load a model" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["empty.png", "truncated.jpg", "bomb.png"])
def test_each_bad_file_is_named(bad_images, name, capsys):
    path, phrase = bad_images[name]
    assert main(["predict", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: " in err and phrase in err


def test_predicting_images_leaves_the_video_and_table_modules_unloaded(astronaut_png):
    """Images take the light path: no video reader, tracker, table writer or timeline plot (matplotlib)."""
    import subprocess
    import sys

    program = (
        "import sys\nfrom fer_hub.cli.main import main\n"
        f"assert main(['predict', {str(astronaut_png)!r}]) == 0\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'matplotlib' or name in "
        "('fer_hub.cli.predict_media', 'fer_hub.media.video', 'fer_hub.media.tracking', 'fer_hub.media.timeline', 'fer_hub.media.table_writer')))"
    )
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1 face found" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "[]"


def test_the_one_value_after_model_is_the_model_and_an_image_named_like_a_model_is_an_image(
    astronaut_png, tmp_path, capsys
):
    """No guessing: `--model` takes exactly one value, so IMAGE is an image even when its name is a model's."""
    photo = tmp_path / "cnn.fer2013"
    shutil.copyfile(astronaut_png, photo)
    assert main(["predict", "--json", "--model", "sepnet.ferplus", str(photo)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["image"] == str(photo) and len(result["faces"]) == 1
    assert main(["predict", "--model", str(astronaut_png)]) == 2  # the photo is the model here: no IMAGE left
    assert capsys.readouterr().err.strip().endswith("error: no IMAGE given")
