import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from keras_genai import callbacks, plotting


class _FixedGenerator:
    """Stands in for a model: generate(z) returns images that encode z[0]."""

    def generate(self, z):
        return np.tanh(np.ones((len(z), 28, 28, 1)) * z[:, :1, None, None])


def test_image_grid_layout_and_titles():
    fig = plotting.image_grid(np.zeros((10, 28, 28, 1)), ncols=4, titles=list(range(10)))
    assert len(fig.axes) == 12 and fig.axes[3].get_title() == "3"
    plt.close(fig)


def test_interpolate_endpoints():
    path = plotting.interpolate(np.zeros(3), np.ones(3), steps=5)
    np.testing.assert_allclose(path[[0, -1]], [np.zeros(3), np.ones(3)])
    np.testing.assert_allclose(path[2], 0.5)


def test_latent_scatter_rejects_1d_codes():
    with pytest.raises(ValueError, match=r"\(n, >=2\)"):
        plotting.latent_scatter(np.zeros(5), np.zeros(5))


def test_monitor_uses_one_fixed_latent_batch(tmp_path):
    monitor = callbacks.ImageGridMonitor(latent_dim=4, n=6, every=2, show=False, save_dir=str(tmp_path))
    monitor.set_model(_FixedGenerator())
    monitor.params = {"epochs": 3}
    for epoch in range(3):
        monitor.on_epoch_end(epoch)
    assert [epoch for epoch, _ in monitor.snapshots] == [2, 3]  # every 2nd epoch and the last
    np.testing.assert_array_equal(monitor.snapshots[0][1], monitor.snapshots[1][1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_002.png", "epoch_003.png"]
    plt.close(monitor.progress_figure())
