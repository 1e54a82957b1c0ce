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


def test_scatter_2d_panels_draws_one_panel_per_entry():
    from keras_genai import plotting

    real, _ = datasets.ring_of_gaussians(100)
    fig = plotting.scatter_2d_panels(real, {"step 1": real * 0.1, "step 2": real, "step 3": real * 2}, ncols=2)
    drawn = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in drawn] == ["step 1", "step 2", "step 3"]
    assert all(len(ax.collections) == 2 for ax in drawn)  # real and generated points
    with pytest.raises(ValueError, match="panels is empty"):
        plotting.scatter_2d_panels(real, {})
