"""Privacy checks: the membership AUC against brute force, sequence NLL against the model's logits,
canary exposure of a model that saw the canary against one that did not, copies, anonymisation, bad input."""

import keras
import numpy as np
import pytest
from scipy import special

from keras_genai import CharLanguageModel, evaluation, tokenizers
from keras_genai.models import feedback
from keras_genai.models._sequence import never_generated

DIGITS = "0123456789"
CANARY = "pin 7306"


def brute_force_auc(members, nonmembers):
    """P(member NLL < non-member NLL) + P(tie) / 2, over every pair."""
    return np.mean([1.0 if m < n else 0.5 if m == n else 0.0 for m in members for n in nonmembers])


def test_auc_is_the_pairwise_probability_with_ties_at_one_half():
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(0, 1, 40), rng.normal(0.5, 1, 30)
    attack = evaluation.membership_inference(members, nonmembers)
    np.testing.assert_allclose(attack.auc, brute_force_auc(members, nonmembers), rtol=1e-12)
    rounded_m, rounded_n = members.round(), nonmembers.round()  # many ties
    np.testing.assert_allclose(evaluation.membership_inference(rounded_m, rounded_n).auc,
                               brute_force_auc(rounded_m, rounded_n), rtol=1e-12)
    assert evaluation.membership_inference([1.0, 2.0], [2.0, 3.0]).auc == (1 + 1 + 0.5 + 1) / 4


def test_separated_scores_leak_everything_and_identical_distributions_nothing():
    total = evaluation.membership_inference([0.1, 0.2, 0.3], [1.0, 2.0])
    assert (total.auc, total.best_accuracy, total.advantage) == (1.0, 1.0, 1.0)
    rng = np.random.default_rng(1)
    none = evaluation.membership_inference(rng.normal(size=2000), rng.normal(size=2000))
    assert abs(none.auc - 0.5) < 0.03 and none.advantage < 0.06
    np.testing.assert_allclose(none.best_accuracy, 0.5 + none.advantage / 2)


def test_advantage_is_the_best_tpr_minus_fpr():
    attack = evaluation.membership_inference([1.0, 3.0], [2.0, 4.0])  # threshold 1: TPR 1/2, FPR 0
    assert attack.advantage == 0.5 and attack.best_accuracy == 0.75


@pytest.fixture(scope="module")
def tok():
    return tokenizers.CharTokenizer(list("pin " + DIGITS))


def trained_model(tok, texts, epochs):
    keras.utils.set_random_seed(0)
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(3e-2))
    model.fit(tok.encode_batch(texts, add_start=True, add_end=True), batch_size=10, epochs=epochs, verbose=0)
    return model


def random_pins(count, seed):
    return ["pin " + "".join(row) for row in np.random.default_rng(seed).choice(list(DIGITS), (count, 4))]


def test_sequence_nll_is_minus_the_log_probability_generate_samples_from(tok):
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    texts = ["pin 12", "p 3"]
    nll = evaluation.sequence_nll(model, texts, batch_size=1)
    assert nll.dtype == np.float64 and nll.shape == (2,)
    ids = tok.encode_batch(texts, add_start=True, add_end=True)
    np.testing.assert_allclose(nll, -np.asarray(feedback.sequence_log_probs(model, ids)), rtol=1e-6)
    logits = np.asarray(model(ids[:, :-1])).astype("float64")
    logits[..., never_generated(tok)] = -np.inf
    log_p = logits - special.logsumexp(logits, axis=-1, keepdims=True)
    targets = ids[:, 1:]
    expected = [-sum(log_p[r, t, targets[r, t]] for t in range(targets.shape[1]) if targets[r, t] != tok.pad_id)
                for r in range(2)]
    np.testing.assert_allclose(nll, expected, rtol=1e-4)
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['x'\]"):
        evaluation.sequence_nll(model, ["pin x"])


def test_a_repeated_canary_is_exposed_and_an_unseen_one_is_not(tok):
    others = random_pins(10, seed=1)
    with_canary = trained_model(tok, others + [CANARY] * 10, epochs=25)
    without_canary = trained_model(tok, others + random_pins(10, seed=2), epochs=25)
    seen = evaluation.canary_exposure(with_canary, CANARY, DIGITS, num_references=200, prefix="pin ")
    unseen = evaluation.canary_exposure(without_canary, CANARY, DIGITS, num_references=200, prefix="pin ")
    assert seen.max_exposure == unseen.max_exposure == np.log2(201)
    assert seen.rank == 1 and seen.exposure == seen.max_exposure, seen
    assert unseen.exposure < 4, unseen  # chance expects about 1.4 bits
    assert seen.canary_nll < seen.reference_nll_mean


def test_canary_input_errors_name_the_problem(tok):
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    with pytest.raises(ValueError, match=r"outside the alphabet: \['7'\]"):
        evaluation.canary_exposure(model, CANARY, "0123456", prefix="pin ")
    with pytest.raises(ValueError, match=r"outside the model's vocabulary: \['x'\]"):
        evaluation.canary_exposure(model, "pin 12", "12x", prefix="pin ")
    with pytest.raises(ValueError, match="does not start with prefix"):
        evaluation.canary_exposure(model, CANARY, DIGITS, prefix="pan ")
    with pytest.raises(ValueError, match="length=3 differs"):
        evaluation.canary_exposure(model, CANARY, DIGITS, length=3, prefix="pin ")


def test_exact_copies_count_training_and_held_out_texts():
    copies = evaluation.exact_copies(["anna", "anna", "bob", "eve", "zed"], train=["anna", "bob", "carl"],
                                     held_out=["eve", "otto"])
    assert (copies.train_count, copies.held_out_count) == (3, 1)
    assert (copies.train_share, copies.held_out_share) == (0.6, 0.2)


def test_anonymise_replaces_every_match_and_counts_them():
    texts, count = evaluation.anonymise(["pin 7306, card 12", "no digits"], r"\d+", "<num>")
    assert texts == ["pin <num>, card <num>", "no digits"] and count == 2
    with pytest.raises(ValueError, match="matches the empty string"):
        evaluation.anonymise(["a1"], r"\d*", "#")


@pytest.mark.parametrize("call, error, message", [
    (lambda: evaluation.membership_inference([], [1.0]), ValueError, "member_scores must be a non-empty"),
    (lambda: evaluation.membership_inference([1.0], [np.nan]), ValueError, "nonmember_scores contains 1 NaN"),
    (lambda: evaluation.membership_inference([[1.0, 2.0]], [1.0]), ValueError, r"1-D.*\(1, 2\)"),
    (lambda: evaluation.membership_inference(["a"], [1.0]), TypeError, "must hold numbers"),
    (lambda: evaluation.exact_copies([], ["a"], ["b"]), ValueError, "generated must be a non-empty list"),
    (lambda: evaluation.exact_copies(["a"], [1], ["b"]), ValueError, "reference must be a non-empty list of str"),
    (lambda: evaluation.anonymise([], r"\d", "#"), ValueError, "texts is empty"),
    (lambda: evaluation.anonymise(["a", 3], r"\d", "#"), TypeError, "only strings, found int"),
])
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_sequence_nll_rejects_non_strings_and_empty_lists(tok):
    model = CharLanguageModel(tok, embedding_dim=8, units=16)
    with pytest.raises(TypeError, match="only strings"):
        evaluation.sequence_nll(model, ["pin", None])
    with pytest.raises(ValueError, match="texts is empty"):
        evaluation.sequence_nll(model, [])
