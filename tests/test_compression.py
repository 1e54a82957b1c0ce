"""Compression: int8 quantization round-trips through .keras, pruning zeroes exactly the smallest
weights of each matrix, float16 copies keep the outputs, and the trained model is never changed."""

import keras
import numpy as np
import pytest

from keras_genai import GAN, GPT, CharLanguageModel, compression, nets, tokenizers

TEXTS = ["abcdefgh", "bcahgfed", "hgfedcba"] * 4


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizers.CharTokenizer.from_texts(TEXTS)


def ids_of(tokenizer):
    return tokenizer.encode_batch(TEXTS, add_start=True, add_end=True)


def language_model(kind, tokenizer):
    keras.utils.set_random_seed(0)
    model = (CharLanguageModel(tokenizer, embedding_dim=8, units=16) if kind == "rnn"
             else GPT(tokenizer, context_length=16, num_layers=1, num_heads=2, embed_dim=16))
    model.build()
    return model


@pytest.mark.parametrize("kind", ["rnn", "gpt"])
def test_an_int8_model_reloads_from_a_keras_file_with_the_same_outputs(kind, tokenizer, tmp_path):
    model = language_model(kind, tokenizer)
    quantized, float_left = compression.quantized_copy(model)
    assert float_left == (["GRUCell"] if kind == "rnn" else [])
    head = quantized.head
    assert head.quantization_mode == "int8" and str(head._kernel.dtype) == "int8"
    inputs = ids_of(tokenizer)[:, :-1]
    original, compressed = np.asarray(model(inputs)), np.asarray(quantized(inputs))
    assert 0 < np.abs(original - compressed).max() < 0.05  # int8 rounding: changed, but only a little
    quantized.save(tmp_path / "int8.keras")
    reloaded = keras.saving.load_model(tmp_path / "int8.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(inputs)), compressed)
    assert compression.file_size(quantized) < compression.file_size(model)
    assert model.head.quantization_mode is None


def test_pruning_zeroes_the_smallest_weights_of_each_matrix_and_nothing_else(tokenizer):
    model = language_model("rnn", tokenizer)
    before = {v.path: np.asarray(v).copy() for v in model.weights}
    pruned, achieved = compression.magnitude_pruned_copy(model, 0.75)
    assert achieved == pytest.approx(0.75, abs=0.01)
    for variable in pruned.weights:
        w, original = np.asarray(variable), before[variable.path]
        if variable.path.split("/")[-1] in ("kernel", "recurrent_kernel", "embeddings"):
            assert np.mean(w == 0) == pytest.approx(0.75, abs=1 / w.size + 1e-9)
            kept = w != 0
            np.testing.assert_array_equal(w[kept], original[kept])  # survivors are untouched
            assert np.abs(original[kept]).min() >= np.abs(original[~kept]).max()
        else:
            np.testing.assert_array_equal(w, original)  # biases stay dense
    for variable in model.weights:  # the trained model is not changed
        np.testing.assert_array_equal(np.asarray(variable), before[variable.path])
    unpruned, zero = compression.magnitude_pruned_copy(model, 0.0)
    assert zero == 0.0
    for a, b in zip(unpruned.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert compression.file_size(pruned, compressed=True) < compression.file_size(model, compressed=True)


def test_pruning_refuses_impossible_sparsities(tokenizer):
    model = language_model("rnn", tokenizer)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="sparsity must be in"):
            compression.magnitude_pruned_copy(model, bad)


def test_a_float16_copy_stores_half_precision_and_keeps_the_outputs(tokenizer):
    model = language_model("gpt", tokenizer)
    half = compression.float16_copy(model)
    assert {str(v.dtype) for v in half.weights} == {"float16"}
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    inputs = ids_of(tokenizer)[:, :-1]
    outputs = np.asarray(half(inputs), "float32")
    assert np.isfinite(outputs).all()
    np.testing.assert_allclose(outputs, np.asarray(model(inputs)), atol=0.02)


def test_a_quantized_gan_keeps_its_convolutions_float_and_generates():
    keras.utils.set_random_seed(0)
    gan = GAN(nets.dcgan_generator(4, (8, 8, 1), filters=(8, 4)), nets.dcgan_discriminator((8, 8, 1), filters=(4, 8)),
              seed=0)
    quantized, float_left = compression.quantized_copy(gan)
    assert float_left == ["Conv2D", "Conv2DTranspose"]
    z = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    np.testing.assert_allclose(quantized.generate(z=z), gan.generate(z=z), atol=0.05)
    half = compression.float16_copy(gan)  # the networks' configs name float32 layer by layer
    assert {str(v.dtype) for v in half.generator.weights} == {"float16"}
    np.testing.assert_allclose(np.asarray(half.generate(z=z), "float32"), gan.generate(z=z), atol=0.02)
    nbytes = lambda net: sum(np.asarray(w).nbytes for w in net.weights)
    assert nbytes(half.generator) * 2 == nbytes(gan.generator)


def test_an_inference_copy_drops_the_optimizer_state_but_keeps_the_weights(tokenizer):
    model = language_model("rnn", tokenizer)
    model.compile(keras.optimizers.Adam())
    model.fit(ids_of(tokenizer), epochs=1, verbose=0)
    copy = compression.inference_copy(model)
    for a, b in zip(copy.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert compression.file_size(copy) < 0.6 * compression.file_size(model)  # no Adam moments
