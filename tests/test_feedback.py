"""Learning from feedback: Bradley-Terry and DPO losses, sequence log-probabilities, the reward model,
DPO and REINFORCE fine-tuning (which weights move, closed forms at the start, bad input)."""

import keras
import numpy as np
import pytest
from scipy import special

from keras_genai import DPO, CharLanguageModel, PolicyGradient, RewardModel, datasets, losses, tokenizers
from keras_genai.models import feedback
from keras_genai.models._sequence import never_generated

NAMES = ["anna", "bob", "carla", "dave", "eve", "frank", "gina", "hank", "ada", "otto", "alma", "ivan"]


@pytest.fixture(scope="module")
def tok():
    return tokenizers.CharTokenizer.from_texts(NAMES)


@pytest.fixture(scope="module")
def lm(tok):
    keras.utils.set_random_seed(0)
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(datasets.sequence_dataset(tok.encode_batch(NAMES, add_start=True, add_end=True), 4), epochs=3, verbose=0)
    return model


def weights_of(model):
    return [w.numpy().copy() for w in model.weights]


def test_bradley_terry_and_dpo_equal_their_closed_forms():
    r_w, r_l = np.array([2.0, -1.0, 0.5]), np.array([1.0, 1.0, 0.5])
    np.testing.assert_allclose(losses.bradley_terry(r_w, r_l), -np.log(special.expit(r_w - r_l)), rtol=1e-6)
    pi_w, pi_l, ref_w, ref_l, beta = np.array([-3.0, -5.0]), np.array([-4.0, -2.0]), np.array([-3.5, -4.0]), \
        np.array([-3.0, -3.0]), 0.5
    expected = -np.log(special.expit(beta * ((pi_w - ref_w) - (pi_l - ref_l))))
    np.testing.assert_allclose(losses.dpo(pi_w, pi_l, ref_w, ref_l, beta), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="one value per pair"):
        losses.bradley_terry(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="beta"):
        losses.dpo(pi_w, pi_l, ref_w, ref_l, beta=0.0)


def test_sequence_log_probs_match_the_distribution_generate_samples(lm, tok):
    ids = tok.encode_batch(["anna", "bob", "eve"], add_start=True, add_end=True)
    logits = np.asarray(lm(ids[:, :-1])).astype("float64")
    logits[..., never_generated(tok)] = -np.inf
    log_p = logits - special.logsumexp(logits, axis=-1, keepdims=True)
    targets = ids[:, 1:]
    expected = [sum(log_p[r, t, targets[r, t]] for t in range(targets.shape[1]) if targets[r, t] != tok.pad_id)
                for r in range(len(ids))]
    np.testing.assert_allclose(feedback.sequence_log_probs(lm, ids), expected, rtol=1e-4)


def test_sample_ids_are_the_sequences_generate_writes(lm, tok):
    ids = lm.sample_ids(20, max_new_tokens=12, rng=3)
    assert ids.shape == (20, 13) and (ids[:, 0] == tok.start_id).all()
    texts = lm.generate(None, num_samples=20, max_new_tokens=12, sampler="temperature", seed=3)
    assert [tok.decode(row[1:]) for row in ids] == texts
    banned = set(never_generated(tok)) - {tok.pad_id}
    assert not banned & set(ids[:, 1:].ravel().tolist())


def test_reward_model_learns_a_preference_and_round_trips(tok, tmp_path):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    a, b = rng.choice(NAMES, 256), rng.choice(NAMES, 256)
    keep = np.array([len(x) != len(y) for x, y in zip(a, b)])
    a, b = a[keep], b[keep]
    longer = np.array([len(x) > len(y) for x, y in zip(a, b)])  # the rater prefers the longer name
    preferred = np.where(longer, a, b).tolist()
    rejected = np.where(longer, b, a).tolist()
    encode = lambda texts: tok.encode_batch(texts, add_start=True, add_end=True, length=8)
    model = RewardModel(tok, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    start = model.evaluate(encode(preferred), encode(rejected), verbose=0, return_dict=True)
    np.testing.assert_allclose(start["loss"], np.log(2), atol=0.05)  # near-zero rewards: every pair at 1/2
    model.fit(encode(preferred), encode(rejected), batch_size=32, epochs=15, verbose=0)
    end = model.evaluate(encode(preferred), encode(rejected), verbose=0, return_dict=True)
    assert end["pair_accuracy"] > 0.9, end
    scores = model.score(["ivan", "frank", "bob"])
    assert scores[1] > scores[2]
    model.save(tmp_path / "reward.keras")
    reloaded = keras.saving.load_model(tmp_path / "reward.keras")
    np.testing.assert_allclose(reloaded.score(["ivan", "frank", "bob"]), scores, rtol=1e-5)
    with pytest.raises(ValueError, match="preference pairs"):
        model.fit(encode(preferred), verbose=0)
    with pytest.raises(ValueError, match="token ids"):
        model.fit(encode(preferred).astype("float32"), encode(rejected), verbose=0)


def test_dpo_starts_at_log_2_and_trains_only_the_policy(lm, tok):
    policy, reference = feedback.copy_of(lm), feedback.copy_of(lm, trainable=False)
    preferred = tok.encode_batch(["anna", "ada", "alma", "gina"], add_start=True, add_end=True, length=7)
    rejected = tok.encode_batch(["bob", "frank", "hank", "otto"], add_start=True, add_end=True, length=7)
    dpo = DPO(policy, reference, beta=0.5)
    dpo.compile(optimizer=keras.optimizers.Adam(1e-2))
    start = dpo.evaluate(preferred, rejected, verbose=0, return_dict=True)
    np.testing.assert_allclose(start["loss"], np.log(2), rtol=1e-5)  # policy == reference: zero margin
    assert start["margin"] == 0
    before_policy, before_reference = weights_of(policy), weights_of(reference)
    dpo.fit(preferred, rejected, batch_size=4, epochs=20, verbose=0)
    end = dpo.evaluate(preferred, rejected, verbose=0, return_dict=True)
    assert end["loss"] < 0.5 * np.log(2) and end["reward_accuracy"] == 1.0, end
    assert all((b == a).all() for b, a in zip(before_reference, weights_of(reference)))
    assert all(not (b == a).all() for b, a in zip(before_policy, weights_of(policy)))


def test_policy_gradient_raises_the_reward_and_leaves_the_reference_alone(lm, tok):
    def starts_with_a(texts):
        return [float(t.startswith("a")) for t in texts]

    policy, reference = feedback.copy_of(lm), feedback.copy_of(lm, trainable=False)
    start = feedback.sample_with_kl(policy, reference, num_samples=200, seed=1)
    assert abs(start.kl) < 1e-5 and start.kl_se < 1e-5  # the same weights: log pi - log pi_ref = 0 for every sample
    before = np.mean(starts_with_a(start.texts))
    before_reference = weights_of(reference)
    trainer = PolicyGradient(policy, reference, starts_with_a, kl_weight=0.05,
                             optimizer=keras.optimizers.Adam(1e-2), batch_size=32, max_new_tokens=12, seed=0)
    first = trainer.step()
    np.testing.assert_allclose(first["kl"], 0.0, atol=1e-5)
    trainer.run(40)
    assert len(trainer.history) == 41
    end = feedback.sample_with_kl(policy, reference, num_samples=200, seed=1)
    assert np.mean(starts_with_a(end.texts)) > before + 0.2 and end.kl > 0 and end.entropy < start.entropy
    assert all((b == a).all() for b, a in zip(before_reference, weights_of(reference)))


def test_best_of_n_keeps_the_highest_scored_of_each_group(lm):
    picked = feedback.best_of_n(lm, lambda texts: [len(t) for t in texts], n=4, num_samples=10, seed=2)
    ids = lm.sample_ids(40, 20, rng=2)
    groups = np.array([len(lm.tokenizer.decode(row[1:])) for row in ids]).reshape(10, 4)
    assert [len(t) for t in picked] == groups.max(axis=1).tolist()


def test_bad_settings_raise_clear_errors(lm):
    reference = feedback.copy_of(lm, trainable=False)
    with pytest.raises(ValueError, match="kl_weight"):
        PolicyGradient(feedback.copy_of(lm), reference, len, kl_weight=-1)
    with pytest.raises(TypeError, match="reward_fn"):
        PolicyGradient(feedback.copy_of(lm), reference, "length")
    with pytest.raises(ValueError, match="batch_size"):
        PolicyGradient(feedback.copy_of(lm), reference, len, batch_size=1)
    trainer = PolicyGradient(feedback.copy_of(lm), reference, lambda texts: [1.0], batch_size=4)
    with pytest.raises(ValueError, match="one finite reward per text"):
        trainer.step()
    nan_trainer = PolicyGradient(feedback.copy_of(lm), reference, lambda texts: [np.nan] * len(texts), batch_size=4)
    with pytest.raises(ValueError, match="NaN"):
        nan_trainer.step()
    with pytest.raises(ValueError, match="one finite reward per text"):
        feedback.best_of_n(lm, lambda texts: [0.0], n=2, num_samples=3)
    other = CharLanguageModel(tokenizers.CharTokenizer.from_texts(["xyz"]), embedding_dim=4, units=4)
    with pytest.raises(ValueError, match="share a tokenizer"):
        PolicyGradient(feedback.copy_of(lm), other, len)
    with pytest.raises(ValueError, match="num_samples"):
        lm.sample_ids(0)
