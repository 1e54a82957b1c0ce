import numpy as np
import pytest

from keras_genai import datasets, evaluation


def test_ring_data_scores_full_coverage_and_collapse_scores_one_mode():
    points, _ = datasets.ring_of_gaussians(4000, modes=8, std=0.05, seed=1)
    report = evaluation.ring_coverage(points)
    assert report.near_fraction > 0.98 and report.modes_covered == 8
    assert report.mode_counts.sum() == round(report.near_fraction * len(points))

    collapsed = points[np.linalg.norm(points - datasets.ring_centres()[0], axis=1) < 0.15]
    report = evaluation.ring_coverage(collapsed)
    assert report.modes_covered == 1 and report.mode_counts[0] == len(collapsed)
    assert "1/8 modes covered" in str(report)


def test_points_between_modes_are_not_near_any():
    centres = datasets.ring_centres()
    midpoints = (centres + np.roll(centres, 1, axis=0)) / 2
    report = evaluation.ring_coverage(midpoints)
    assert report.near_fraction == 0.0 and report.modes_covered == 0


def test_ring_coverage_rejects_bad_points():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        evaluation.ring_coverage(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        evaluation.ring_coverage(np.full((5, 2), np.nan))
