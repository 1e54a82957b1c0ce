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


def test_monitor_draws_an_explicit_list_of_epochs_and_shows_every_snapshot():
    monitor = callbacks.ImageGridMonitor(latent_dim=4, n=6, epochs=[1, 2, 5], show=False)
    monitor.set_model(_FixedGenerator())
    monitor.params = {"epochs": 8}
    for epoch in range(8):
        monitor.on_epoch_end(epoch)
    assert [epoch for epoch, _ in monitor.snapshots] == [1, 2, 5, 8]  # the listed epochs and the last
    fig = monitor.progress_figure()
    assert len(fig.axes) == 4 * 6  # one row per snapshot: none dropped
    plt.close(fig)


def _tiny_fit(progress, epochs=9):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((32, 2), "float32")
    model.fit(x, x[:, :1], epochs=epochs, batch_size=8, verbose=0, callbacks=[progress],
              validation_data=(x, x[:, :1]))


def test_progress_log_keeps_a_line_every_few_epochs_and_the_last(capsys):
    progress = callbacks.ProgressLog(lines=3, title="toy")
    _tiny_fit(progress)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["3/9", "6/9", "9/9"]
    assert all("loss" in line and "val_loss" in line for line in lines)
    assert lines[-1].startswith("toy: epoch 9/9 done in")  # the last epoch is the summary line
    assert [epoch for epoch, _ in progress.history] == list(range(1, 10))


def test_progress_log_every_zero_keeps_only_the_summary(capsys):
    _tiny_fit(callbacks.ProgressLog(every=0), epochs=4)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("epoch 4/4 done in")


def test_progress_log_rejects_bad_settings():
    with pytest.raises(ValueError, match="every"):
        callbacks.ProgressLog(every=-1)
    with pytest.raises(ValueError, match="lines"):
        callbacks.ProgressLog(lines=0)


def test_score_tracker_records_a_curve_every_few_epochs_and_the_last():
    calls = []

    def score(model):
        calls.append(model)
        return {"modes": len(calls), "quality": 0.5, "samples": np.full((2, 2), len(calls))}

    tracker = callbacks.ScoreTracker(score, every=3)
    progress = callbacks.ProgressLog(every=0)
    _tiny_fit(progress, epochs=1)  # a fit gives the callback its params and model
    tracker.set_model(progress.model)
    tracker.params = {"epochs": 7}
    tracker.on_train_begin()
    for epoch in range(7):
        tracker.on_epoch_end(epoch)
    assert tracker.epochs == [3, 6, 7] and tracker.history["modes"] == [1.0, 2.0, 3.0]
    assert tracker.history["quality"] == [0.5] * 3
    np.testing.assert_array_equal(np.array(tracker.history["samples"])[:, 0, 0], [1, 2, 3])  # arrays kept whole
    assert all(model is progress.model for model in calls)
    with pytest.raises(TypeError, match="score must be a function"):
        callbacks.ScoreTracker(3)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        callbacks.ScoreTracker(score, every=0)
    bad = callbacks.ScoreTracker(lambda model: 1.0)
    bad.params = {"epochs": 1}
    with pytest.raises(TypeError, match="must return a dict"):
        bad.on_epoch_end(0)


def test_monitor_passes_labels_to_a_conditional_model():
    from keras_genai import ConditionalGAN, nets

    generator = nets.dcgan_generator(4, (8, 8, 1), filters=(8, 4), num_classes=3)
    model = ConditionalGAN(generator, nets.dcgan_discriminator((8, 8, 1), filters=(4, 8), num_classes=3), num_classes=3)
    monitor = callbacks.ImageGridMonitor(latent_dim=4, n=6, labels=[0, 1, 2, 0, 1, 2], show=False)
    monitor.set_model(model)
    monitor.params = {"epochs": 1}
    monitor.on_train_begin()
    monitor.on_epoch_end(0)
    np.testing.assert_allclose(monitor.snapshots[0][1], model.generate(z=monitor.z, labels=[0, 1, 2, 0, 1, 2]))
    bad = callbacks.ImageGridMonitor(latent_dim=4, n=6, labels=[0, 1, 3, 0, 1, 2], show=False)
    bad.set_model(model)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\]"):
        bad.on_train_begin()


def test_piano_rolls_draw_one_cell_per_sounding_step_and_refuse_silence():
    voices = np.array([[72, 72, -1, 74], [67, 67, 67, -1], [64, -1, -1, 60], [48, 48, 50, 50]])
    fig = plotting.piano_rolls([voices, voices[:, ::-1]], titles=["a", "b"], steps_per_bar=2)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["a", "b"]
    assert len(axes[0].patches) == int((voices >= 0).sum()) and axes[0].get_ylim() == (47.0, 75.0)
    plt.close(fig)
    with pytest.raises(ValueError, match="silent"):
        plotting.piano_rolls([np.full((4, 3), -1)])
    with pytest.raises(ValueError, match="one title per score"):
        plotting.piano_rolls([voices], titles=["a", "b"])
