"""Self-attention, the key/value cache, GPT and the masked language model."""

import keras
import numpy as np
import pytest
from scipy import special

from keras_genai import GPT, MaskedLanguageModel, datasets, layers, sampling, tokenizers
from keras_genai.models.masked import mask_tokens

TEXTS = ["the cat sat on the mat", "a dog ran in the fog", "the end of the line"]


def test_self_attention_equals_the_equations():
    keras.utils.set_random_seed(0)
    attention = layers.SelfAttention(num_heads=2, head_dim=3, causal=True)
    x = np.random.default_rng(0).normal(size=(1, 5, 4)).astype("float32")
    out, _, weights = attention(x, return_weights=True)
    w_qkv, b_qkv = (v.numpy() for v in attention.qkv.weights)
    q, k, v = np.split((x[0] @ w_qkv + b_qkv).reshape(5, 3, 2, 3), 3, axis=1)
    q, k, v = q[:, 0], k[:, 0], v[:, 0]  # (t, heads, d)
    scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(3)
    scores = np.where(np.tril(np.ones((5, 5), bool)), scores, -np.inf)
    alpha = special.softmax(scores, axis=-1)
    mixed = np.einsum("hts,shd->thd", alpha, v).reshape(5, 6)
    w_o, b_o = (v.numpy() for v in attention.out.weights)
    np.testing.assert_allclose(np.asarray(weights)[0], alpha, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out)[0], mixed @ w_o + b_o, atol=1e-5)


def test_attention_without_positions_is_permutation_equivariant():
    keras.utils.set_random_seed(0)
    attention = layers.SelfAttention(num_heads=2, head_dim=4, causal=False)
    x = np.random.default_rng(1).normal(size=(1, 6, 8)).astype("float32")
    order = np.array([3, 0, 5, 1, 4, 2])
    out = np.asarray(attention(x)[0])
    np.testing.assert_allclose(np.asarray(attention(x[:, order])[0]), out[:, order], atol=1e-5)


def test_sinusoidal_table():
    table = layers.sinusoidal_table(50, 8)
    np.testing.assert_allclose(table[7, 2], np.sin(7 / 10000 ** (2 / 8)), rtol=1e-6)
    np.testing.assert_allclose(table[7, 3], np.cos(7 / 10000 ** (2 / 8)), rtol=1e-6)
    with pytest.raises(ValueError, match="kind must be one of"):
        layers.PositionalEmbedding(10, 4, kind="rotary")


@pytest.fixture(scope="module")
def gpt():
    keras.utils.set_random_seed(0)
    tok = tokenizers.CharTokenizer.from_texts(TEXTS)
    model = GPT(tok, context_length=32, num_layers=2, num_heads=2, embed_dim=16)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    ids = tok.encode_batch(TEXTS, add_start=True, add_end=True)
    model.fit(ids, batch_size=3, epochs=3, verbose=0)
    return model


def test_no_position_attends_to_the_future(gpt):
    ids = gpt.tokenizer.encode("the cat sat", add_start=True)[None]
    changed = ids.copy()
    changed[0, 6] = gpt.tokenizer.encode("z" if "z" in gpt.tokenizer.characters else "q", unknown="map")[0]
    before, after = np.asarray(gpt(ids)), np.asarray(gpt(changed))
    np.testing.assert_allclose(before[0, :6], after[0, :6], atol=1e-5)
    assert not np.allclose(before[0, 6:], after[0, 6:])


def test_cache_steps_equal_the_full_pass(gpt):
    ids = gpt.tokenizer.encode("the dog ran", add_start=True)[None]
    full = np.asarray(gpt(ids))[0]
    logits, cache = gpt.prefill(ids[:, :4])
    steps, state = [np.asarray(logits)[0]], (cache, 4)
    for token in ids[0, 4:]:
        logits, state = gpt.step(np.array([token], "int32"), state)
        steps.append(np.asarray(logits)[0])
    np.testing.assert_allclose(np.stack(steps), full[3:], atol=1e-4)


def test_writing_past_the_end_of_the_cache_is_refused():
    attention = layers.SelfAttention(num_heads=2, head_dim=3)
    x = np.zeros((1, 2, 4), "float32")
    cache = (np.zeros((1, 2, 5, 3), "float32"),) * 2
    attention(x, cache=cache, start=3)  # positions 3 and 4: the last two of five
    with pytest.raises(ValueError, match="positions 4..5 do not fit in a key/value cache of 5"):
        attention(x, cache=cache, start=4)


def test_cached_and_uncached_generation_give_the_same_tokens(gpt):
    for sampler in ("greedy", sampling.TopK(4, temperature=1.3)):
        for seed in range(3):
            cached = gpt.generate(["the", "a do"], 20, sampler=sampler, seed=seed)
            assert cached == gpt.generate(["the", "a do"], 20, sampler=sampler, seed=seed, use_cache=False)


def test_gpt_padding_does_not_count(gpt):
    ids = gpt.tokenizer.encode_batch(TEXTS, add_start=True, add_end=True)
    short = gpt.evaluate(ids, return_dict=True, verbose=0)["loss"]
    padded = gpt.evaluate(np.pad(ids, ((0, 0), (0, 6))), return_dict=True, verbose=0)["loss"]
    np.testing.assert_allclose(short, padded, rtol=1e-5)


def test_gpt_bad_input_is_clear(gpt):
    with pytest.raises(ValueError, match="exceeds the context window of 32"):
        gpt.generate("the cat sat on the", 20)
    with pytest.raises(ValueError, match="empty prompt"):
        gpt.generate("", 5)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        gpt.generate("ZZZ", 5)
    with pytest.raises(ValueError, match="longer than the context window"):
        gpt.fit(np.ones((2, 40), "int32"), verbose=0)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        GPT(gpt.tokenizer, embed_dim=10, num_heads=4)


def test_gpt_save_and_load_give_the_same_text(gpt, tmp_path):
    path = str(tmp_path / "gpt.keras")
    gpt.save(path)
    again = keras.saving.load_model(path)
    assert again.tokenizer.vocabulary == gpt.tokenizer.vocabulary
    for sampler in ("greedy", "top_p"):
        assert again.generate(None, 15, sampler=sampler, num_samples=3, seed=4) == gpt.generate(
            None, 15, sampler=sampler, num_samples=3, seed=4)


# --- masked language model -------------------------------------------------------------------

def test_masking_follows_the_80_10_10_rule():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 40, size=(400, 128)).astype("int32")
    ids[:, :2] = [1, 0]  # a start id and a padding id are never chosen
    draws = [rng.random(ids.shape).astype("float32") for _ in range(3)]
    inputs, targets = (np.asarray(a) for a in mask_tokens(ids, 4, 5, 40, draws))
    chosen = targets != 0
    assert not chosen[:, :2].any()
    share = chosen[:, 2:].mean()
    assert abs(share - 0.15) < 0.005
    as_mask = (inputs == 4) & chosen
    changed = (inputs != ids) & (inputs != 4) & chosen
    kept = (inputs == ids) & chosen
    # random replacements that happen to draw the true character count as kept (1 in 35)
    assert abs(as_mask.sum() / chosen.sum() - 0.8) < 0.01
    assert abs((changed.sum() + kept.sum()) / chosen.sum() - 0.2) < 0.01
    assert abs(kept.sum() / chosen.sum() - (0.1 + 0.1 / 35)) < 0.01
    assert (targets[chosen] == ids[chosen]).all() and (inputs[~chosen] == ids[~chosen]).all()
    assert inputs[changed].min() >= 5 and inputs[changed].max() < 40


def test_cosine_mask_rate_draws_one_rate_per_window_and_masks_every_chosen_position():
    tok = tokenizers.CharTokenizer.from_texts(TEXTS, mask_token=True)
    model = MaskedLanguageModel(tok, context_length=64, num_layers=1, num_heads=2, embed_dim=8, mask_rate="cosine",
                                seed=0)
    ids = np.random.default_rng(0).integers(tok.first_character_id, tok.vocab_size, (4000, 64)).astype("int32")
    inputs, targets = (np.asarray(a) for a in model._corrupt(ids))
    chosen = targets != 0
    # r = cos(pi/2 u), u ~ U(0, 1): E[r] = 2/pi; the rates of single windows spread over (0, 1)
    assert abs(chosen.mean() - 2 / np.pi) < 0.01
    per_window = chosen.mean(axis=1)
    assert per_window.min() < 0.1 and per_window.max() > 0.9
    assert (inputs[chosen] == tok.mask_id).all() and (inputs[~chosen] == ids[~chosen]).all()
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model)).mask_rate == "cosine"


@pytest.fixture(scope="module")
def mlm():
    keras.utils.set_random_seed(0)
    tok = tokenizers.CharTokenizer.from_texts(TEXTS, mask_token=True)
    model = MaskedLanguageModel(tok, context_length=32, num_layers=2, num_heads=2, embed_dim=16, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    ids = tok.encode_batch(TEXTS * 4, add_start=True, add_end=True)
    model.fit(datasets.sequence_dataset(ids, 4), epochs=2, verbose=0)
    return model


def test_mlm_draws_a_new_mask_every_batch_and_scores_only_masked_positions(mlm):
    ids = mlm.tokenizer.encode_batch(TEXTS, add_start=True, add_end=True)
    (_, first), (_, second) = mlm._corrupt(ids), mlm._corrupt(ids)
    assert not np.array_equal(np.asarray(first), np.asarray(second))
    accuracy, nats, count = mlm.masked_accuracy(np.repeat(ids, 20, axis=0), seed=0)
    assert count > 0 and 0 <= accuracy <= 1 and nats > 0
    assert mlm.masked_accuracy(ids, seed=1) == mlm.masked_accuracy(ids, seed=1)


def test_mlm_fill_and_generate(mlm, tmp_path):
    filled = mlm.fill_mask("the c_t sat")
    assert len(filled) == len("the c_t sat") and filled[:5] == "the c" and filled[6:] == "t sat"
    texts, steps = mlm.generate(12, num_samples=2, steps=4, seed=0, return_steps=True)
    assert len(texts) == 2 and all(len(t) == 12 for t in texts)
    masked_left = [sum(row.count("_") for row in snapshot) for snapshot in steps]
    assert masked_left == sorted(masked_left, reverse=True) and masked_left[-1] == 0
    path = str(tmp_path / "mlm.keras")
    mlm.save(path)
    again = keras.saving.load_model(path)
    assert again.generate(12, num_samples=2, steps=4, seed=0) == texts
    assert again.tokenizer.mask_id == 4


def test_mlm_randomised_choice_is_seeded_and_annealed(mlm):
    plain = mlm.generate(20, num_samples=4, steps=5, seed=3)
    noisy = mlm.generate(20, num_samples=4, steps=5, seed=3, choice_temperature=50.0)
    assert noisy == mlm.generate(20, num_samples=4, steps=5, seed=3, choice_temperature=50.0)
    assert noisy != plain  # the noise changes which draws are kept, hence the texts
    # one step: the noise is annealed to 0 at the last step, so the choice is confidence-first
    assert mlm.generate(20, num_samples=4, steps=1, seed=3, choice_temperature=50.0) == mlm.generate(
        20, num_samples=4, steps=1, seed=3)


def test_mlm_bad_input_is_clear(mlm):
    with pytest.raises(ValueError, match="needs a tokenizer with a mask token"):
        MaskedLanguageModel(tokenizers.CharTokenizer.from_texts(TEXTS))
    with pytest.raises(ValueError, match="no blank"):
        mlm.fill_mask("the cat")
    with pytest.raises(ValueError, match="does not continue a prompt"):
        mlm.generate(10, prompt="the")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        mlm.fill_mask("the Z_t")
    with pytest.raises(ValueError, match="choice_temperature"):
        mlm.generate(10, choice_temperature=-1)
    with pytest.raises(ValueError, match='mask_rate must be a number in \\(0, 1\\) or "cosine"'):
        MaskedLanguageModel(mlm.tokenizer, mask_rate="linear")
    with pytest.raises(ValueError, match="longer than the context window"):
        mlm.generate(32)


def test_sinusoidal_positions_train_without_a_first_call():
    tok = tokenizers.CharTokenizer.from_texts(TEXTS)
    model = GPT(tok, context_length=32, num_layers=1, num_heads=2, embed_dim=8, positions="sinusoidal")
    model.compile(optimizer="adam")
    ids = tok.encode_batch(TEXTS, add_start=True, add_end=True)
    first = model.evaluate(ids, return_dict=True, verbose=0)["loss"]
    model.fit(ids, epochs=3, verbose=0)  # the table is built inside fit's graph
    assert model.evaluate(ids, return_dict=True, verbose=0)["loss"] < first


def test_mlm_infill_fills_only_the_masked_positions(mlm):
    ids = mlm.tokenizer.encode_batch(TEXTS[:2], add_start=True, add_end=True)
    blanks = np.zeros(ids.shape, dtype=bool)
    blanks[:, 2:8:2] = True  # every other position: the blanks are chosen by position, not by character
    masked = np.where(blanks, mlm.tokenizer.mask_id, ids)
    filled, history = mlm.infill(masked, steps=3, seed=0, return_steps=True)
    assert filled.shape == ids.shape and np.array_equal(filled[~blanks], ids[~blanks])
    assert not (filled == mlm.tokenizer.mask_id).any()
    assert filled[blanks].min() >= mlm.tokenizer.first_character_id  # no special token is written
    left = [int((h == mlm.tokenizer.mask_id).sum()) for h in history]
    assert left == sorted(left, reverse=True) and left[-1] == 0
    # one greedy pass: each blank takes the most likely vocabulary token (never a special id such as the end)
    one_pass = mlm.infill(masked, steps=1)
    logits = np.asarray(mlm(masked, key_mask=masked != 0))[..., mlm.tokenizer.first_character_id:]
    assert np.array_equal(one_pass[blanks], logits.argmax(-1)[blanks] + mlm.tokenizer.first_character_id)
    assert np.array_equal(mlm.infill(masked, steps=3, sampler="temperature", seed=5),
                          mlm.infill(masked, steps=3, sampler="temperature", seed=5))
    with pytest.raises(ValueError, match="no mask id"):
        mlm.infill(ids)
    with pytest.raises(ValueError, match="longer than the context window"):
        mlm.infill(np.full((1, 40), mlm.tokenizer.mask_id))


def test_word_level_generation_keeps_the_prompt_and_the_continuation_apart():
    keras.utils.set_random_seed(0)
    tok = tokenizers.WordTokenizer.from_texts(TEXTS)
    model = GPT(tok, context_length=12, num_layers=1, num_heads=1, embed_dim=8)
    texts = model.generate(["the cat", "a dog "], max_new_tokens=3, sampler=sampling.get("temperature"), seed=0)
    for prompt, text in zip(["the cat", "a dog "], texts):
        words = text.split()
        assert words[:2] == prompt.split() and 2 < len(words) <= 5  # fewer when the end token is drawn
        assert set(words) <= set(tok.characters)  # no glued word such as "catsat"
        assert "  " not in text
