"""TensorBoard: the event files keras.callbacks.TensorBoard and SampleSummaries write read back with
the numbers fit() reported, the images that were generated and the texts that were written."""

import keras
import numpy as np
import pytest

from keras_genai import GAN, CharLanguageModel, callbacks, datasets, nets, tokenizers


def test_losses_and_samples_of_a_gan_read_back_from_the_event_files(tmp_path):
    keras.utils.set_random_seed(0)
    gan = GAN(nets.mlp_generator(4, (28, 28, 1), hidden=(8,)), nets.mlp_discriminator((28, 28, 1), hidden=(8,)), seed=0)
    gan.compile()
    x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    sample = lambda model: (model.generate(4, seed=0) + 1) / 2
    history = gan.fit(x, batch_size=16, epochs=3, verbose=0, callbacks=[
        keras.callbacks.TensorBoard(tmp_path), callbacks.SampleSummaries(tmp_path, sample, every=2)])
    logged = callbacks.read_tensorboard(tmp_path)
    for name in ("d_loss", "g_loss", "d_acc"):
        steps, values = zip(*logged["scalars"][f"train/epoch_{name}"])
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, history.history[name], rtol=1e-6)
    images = logged["images"]["samples/samples"]
    assert [step for step, _ in images] == [1, 2]  # every 2 epochs, and the last
    expected = np.round(sample(gan) * 255)  # the last epoch's samples, as 8-bit PNG pixels
    np.testing.assert_allclose(images[-1][1].astype("float64"), expected, atol=1)


def test_generated_text_reads_back(tmp_path):
    names = ["anna", "bob", "carla", "dave"]
    tok = tokenizers.CharTokenizer.from_texts(names)
    lm = CharLanguageModel(tok, embedding_dim=4, units=8)
    lm.compile(optimizer="adam")
    write = lambda model: model.generate(None, 8, sampler="temperature", num_samples=3, seed=0)
    lm.fit(datasets.sequence_dataset(tok.encode_batch(names, add_start=True, add_end=True), 2), epochs=2, verbose=0,
           callbacks=[callbacks.SampleSummaries(tmp_path, write, name="names")])
    texts = callbacks.read_tensorboard(tmp_path)["texts"]["samples/names"]
    assert [step for step, _ in texts] == [0, 1] and texts[-1][1] == write(lm)


def test_bad_samples_and_missing_folders_raise_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="function of the model"):
        callbacks.SampleSummaries(tmp_path, "images")
    with pytest.raises(FileNotFoundError, match="no TensorBoard log folder"):
        callbacks.read_tensorboard(tmp_path / "missing")
    keras.utils.set_random_seed(0)
    gan = GAN(nets.mlp_generator(4, (28, 28, 1), hidden=(8,)), nets.mlp_discriminator((28, 28, 1), hidden=(8,)), seed=0)
    gan.compile()
    x = np.zeros((16, 28, 28, 1), "float32") - 1
    with pytest.raises(ValueError, match="values in"):  # [-1, 1] samples, not [0, 1]
        gan.fit(x, batch_size=16, epochs=1, verbose=0,
                callbacks=[callbacks.SampleSummaries(tmp_path, lambda m: m.generate(2, seed=0))])
