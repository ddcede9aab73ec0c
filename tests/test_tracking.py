"""Face ids across frames (IoU tracker), score smoothing over time, and the frame sampling of videos."""

import math

import numpy as np
import pytest

from fer_hub.errors import ParameterError
from fer_hub.media.tracking import IouTracker, ScoreSmoother, iou
from fer_hub.media.video import Sampling, checked_sampling


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_a_moving_face_keeps_its_id_and_a_new_face_gets_the_next():
    tracker = IouTracker()
    assert tracker.update([(100, 100, 50, 50)], 0.0) == [1]
    assert tracker.update([(110, 100, 50, 50)], 0.04) == [1]
    # a second face appears, listed first: the ids follow the boxes, not the order
    assert tracker.update([(400, 50, 80, 80), (118, 102, 50, 50)], 0.08) == [2, 1]
    assert tracker.update([(125, 104, 50, 50), (404, 52, 80, 80)], 0.12) == [1, 2]


def test_two_boxes_never_share_an_id_and_a_long_gap_starts_a_new_one():
    tracker = IouTracker(max_gap_s=1.0)
    assert tracker.update([(0, 0, 50, 50)], 0.0) == [1]
    assert tracker.update([(2, 0, 50, 50), (4, 0, 50, 50)], 0.04) in ([1, 2], [2, 1])
    assert tracker.update([], 0.5) == []
    assert tracker.update([(2, 0, 50, 50)], 0.9) == [1]  # missed for 0.86 s: same face
    assert tracker.update([(2, 0, 50, 50)], 2.5) == [3]  # missed for 1.6 s: a new face
    assert tracker.active_ids == {3}


def test_a_face_sampled_sparsely_keeps_its_id_when_it_moved_less_than_its_width():
    tracker = IouTracker()
    assert tracker.update([(100, 100, 60, 60)], 0.0) == [1]
    assert iou((100, 100, 60, 60), (150, 110, 60, 60)) < tracker.min_iou
    assert tracker.update([(150, 110, 60, 60)], 0.4) == [1]  # no overlap to speak of, but 0.85 widths away
    assert tracker.update([(300, 110, 60, 60)], 0.8) == [2]  # 2.5 widths away: another face
    assert tracker.update([(290, 100, 130, 130)], 1.2) == [3]  # near face 2, but twice its size: another face


def test_smoothing_is_an_exponential_average_over_time():
    smoother = ScoreSmoother(seconds=1.0)
    first, second = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert np.allclose(smoother.smooth(7, first, 0.0), first)  # a new face starts at its own scores
    after_one_second = smoother.smooth(7, second, 1.0)
    assert np.allclose(after_one_second, [math.exp(-1), 1 - math.exp(-1)])
    assert after_one_second.sum() == pytest.approx(1.0)
    assert np.allclose(smoother.smooth(8, second, 1.0), second)  # faces are smoothed separately
    smoother.retain({8})
    assert np.allclose(smoother.smooth(7, first, 1.5), first)  # forgotten: starts afresh


def test_sampling_every_and_fps():
    assert [i for i in range(12) if Sampling(every=4).keeps(i, 25.0)] == [0, 4, 8]
    assert Sampling(every=4).count(12, 25.0) == 3 and Sampling(every=4).count(13, 25.0) == 4
    kept = [i for i in range(50) if Sampling(fps=10).keeps(i, 25.0)]
    assert len(kept) == Sampling(fps=10).count(50, 25.0) == 20
    assert np.allclose(np.diff(kept).mean(), 2.5, atol=0.1)
    assert [i for i in range(5) if Sampling(fps=60).keeps(i, 25.0)] == [0, 1, 2, 3, 4]  # never more than all
    assert Sampling(fps=5).rate(25.0) == 5 and Sampling(every=5).rate(25.0) == 5


@pytest.mark.parametrize(
    "every, fps, parameter, phrase",
    [
        (0, None, "every", "every: must be a whole number >= 1, not 0"),
        (1, 0.0, "fps", "fps: must be above 0, not 0.0"),
        (2, 5.0, "fps", "fps: give `every` or `fps`, not both"),
    ],
)
def test_bad_sampling_is_a_parameter_error(every, fps, parameter, phrase):
    """The library names its parameters (the CLI shows the flags instead, see test_video)."""
    with pytest.raises(ParameterError) as error:
        Sampling(every, fps)
    assert error.value.parameter == parameter and str(error.value) == phrase


def test_bad_smoothing_is_a_parameter_error():
    with pytest.raises(ParameterError, match="^smooth: must be above 0 seconds, not -1") as error:
        checked_sampling(smooth=-1)
    assert error.value.parameter == "smooth"
