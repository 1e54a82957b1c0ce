import numpy as np
import pytest
import tensorflow as tf

from keras_genai import sampling

LOGITS = np.log(np.array([[0.05, 0.4, 0.1, 0.3, 0.15]]))


def test_greedy_takes_the_argmax_first_on_ties():
    logits = np.array([[0.0, 2.0, 2.0, 1.0], [5.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(sampling.Greedy()(logits), [1, 0])
    np.testing.assert_array_equal(sampling.Greedy().distribution(logits)[0], [0, 1, 0, 0])


def test_temperature_one_is_the_softmax_and_near_zero_is_greedy():
    probs = sampling.Temperature(1.0).distribution(LOGITS)
    np.testing.assert_allclose(probs[0], [0.05, 0.4, 0.1, 0.3, 0.15])
    cold = sampling.Temperature(1e-3)
    np.testing.assert_allclose(cold.distribution(LOGITS), sampling.Greedy().distribution(LOGITS), atol=1e-12)
    rng = np.random.default_rng(0)
    logits = np.random.default_rng(1).normal(size=(50, 7))
    np.testing.assert_array_equal(cold(logits, rng), sampling.Greedy()(logits))
    hot = sampling.Temperature(100.0).distribution(LOGITS)[0]
    assert hot.max() - hot.min() < 0.02  # flattens towards uniform


def test_top_k_keeps_exactly_k_renormalised():
    for k in range(1, 6):
        probs = sampling.TopK(k).distribution(LOGITS)[0]
        assert np.count_nonzero(probs) == k
        np.testing.assert_allclose(probs.sum(), 1.0)
    kept = sampling.TopK(2).distribution(LOGITS)[0]
    np.testing.assert_allclose(kept, [0, 0.4 / 0.7, 0, 0.3 / 0.7, 0])


@pytest.mark.parametrize("p, kept", [(0.4, [1]), (0.41, [1, 3]), (0.7, [1, 3]), (0.71, [1, 3, 4]), (1.0, [0, 1, 2, 3, 4])])
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    probs = sampling.TopP(p).distribution(LOGITS)[0]
    assert np.flatnonzero(probs).tolist() == kept
    mass = np.array([0.05, 0.4, 0.1, 0.3, 0.15])[kept]
    assert mass.sum() >= p - 1e-12
    assert mass.sum() - mass.min() < p  # dropping the least likely kept token falls short of p
    np.testing.assert_allclose(probs[kept], mass / mass.sum())


def test_sampling_draws_follow_the_distribution_and_a_seed_repeats_them():
    logits = np.repeat(LOGITS, 20000, axis=0)
    draws = sampling.Temperature(1.0)(logits, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(draws, minlength=5) / len(draws), [0.05, 0.4, 0.1, 0.3, 0.15], atol=0.01)
    again = sampling.Temperature(1.0)(logits, np.random.default_rng(0))
    np.testing.assert_array_equal(draws, again)
    topk = sampling.TopK(2)(logits, np.random.default_rng(0))
    assert set(np.unique(topk)) == {1, 3}


def test_get_and_bad_settings_are_clear():
    assert isinstance(sampling.get("top_p"), sampling.TopP)
    with pytest.raises(ValueError, match="unknown sampler 'nucleus'.*top_p"):
        sampling.get("nucleus")
    with pytest.raises(ValueError, match="temperature must be a positive"):
        sampling.Temperature(0)
    with pytest.raises(ValueError, match="p must be in"):
        sampling.TopP(1.5)
    with pytest.raises(ValueError, match="k must be a positive"):
        sampling.TopK(0)
    with pytest.raises(ValueError, match="NaN"):
        sampling.Greedy()(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\(batch, vocab\)"):
        sampling.Greedy()(np.zeros(4))


# A hand-made two-step model over tokens {0: end, 1: a, 2: b}. From the start, "a" is likelier
# (0.6) than "b" (0.4); after "a" the next token is spread out (best 0.35), after "b" it is
# certain (0.95). Greedy picks a -> 0.6 * 0.35 = 0.21; the best sequence is b b (0.4 * 0.95 = 0.38).
TABLE = {
    (): [0.0, 0.6, 0.4],
    (1,): [0.3, 0.35, 0.35],
    (2,): [0.025, 0.025, 0.95],
}


def _toy_step(tokens, state):
    """state: the tokens read so far, one row per hypothesis (-1 for the start token)."""
    history = np.concatenate([state.numpy(), np.where(np.asarray(tokens) > 2, -1, tokens)[:, None]], axis=1)
    rows = [TABLE.get(tuple(int(t) for t in h if t > 0), [1.0, 0.0, 0.0]) for h in history]  # 2 tokens: end
    with np.errstate(divide="ignore"):
        return np.log(np.array(rows)), tf.constant(history.astype("int32"))


def _toy_search(beam_width):
    state = tf.constant(np.full((beam_width, 0), -1, dtype="int32"))
    return sampling.beam_search(_toy_step, state, 1, start_id=3, end_id=0, beam_width=beam_width, max_length=5)


def _toy_greedy():
    state, tokens, out = tf.constant(np.full((1, 0), -1, dtype="int32")), np.array([3]), []
    for _ in range(5):
        log_probs, state = _toy_step(tokens, state)
        tokens = sampling.Greedy()(log_probs)
        if tokens[0] == 0:
            break
        out.append(int(tokens[0]))
    return out


def test_beam_width_one_is_greedy_and_a_wider_beam_finds_the_best_sequence():
    greedy = _toy_greedy()
    (one,), score_one = _toy_search(1)
    assert one == greedy == [1, 1]
    np.testing.assert_allclose(score_one, np.log(0.6 * 0.35 * 1.0))
    (two,), score_two = _toy_search(2)
    assert two == [2, 2]
    np.testing.assert_allclose(score_two, np.log(0.4 * 0.95 * 1.0))


def test_beam_search_handles_a_batch_and_checks_its_settings():
    state = tf.constant(np.full((6, 0), -1, dtype="int32"))
    sequences, scores = sampling.beam_search(_toy_step, state, 3, 3, 0, beam_width=2, max_length=5)
    assert sequences == [[2, 2]] * 3
    with pytest.raises(ValueError, match="beam_width"):
        sampling.beam_search(_toy_step, state, 3, 3, 0, beam_width=0)
