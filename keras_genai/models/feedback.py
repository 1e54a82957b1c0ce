"""Learning from feedback (RLHF in miniature) for the character language model.

- `RewardModel` r(x): a small GRU scoring a whole sequence, trained on preference pairs
  (preferred, rejected) with the Bradley-Terry loss -log sigmoid(r(x_w) - r(x_l)).
- `PolicyGradient`: REINFORCE on the policy's own samples. It maximises E_pi[r(x)] - beta KL(pi || pi_ref),
  the KL to the model it started from (`reference`), with a leave-one-out baseline.
- `DPO`: the same objective fitted directly on the preference pairs, with no reward model and no sampling.

Every log-probability here is the one generation samples from: padding, start and unknown ids
are excluded from the softmax, as `generate` excludes them.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_genai import _checks, losses, tokenizers
from keras_genai.models._base import loss_scaled, minimize, to_numpy
from keras_genai.models._sequence import SequenceModel, never_generated


def sequence_log_probs(model, ids, training=False):
    """log p(x) of each row of ids (start id first, padding after the end), summed over its
    non-padding targets, under the distribution `model.generate` samples from (temperature 1)."""
    ids = ops.convert_to_tensor(ids, "int32")
    logits = _checks.full_precision(model(ids[:, :-1], training=training))  # -1e9 overflows float16
    banned = np.zeros(model.tokenizer.vocab_size, dtype=bool)
    banned[never_generated(model.tokenizer)] = True
    log_p = ops.log_softmax(ops.where(banned, -1e9, logits), axis=-1)
    targets = ids[:, 1:]
    picked = ops.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
    return ops.sum(ops.where(ops.not_equal(targets, model.tokenizer.pad_id), picked, 0.0), axis=1)


def copy_of(model, trainable=True):
    """A new model with the same config and weights: a policy to fine-tune, or (trainable=False) the
    frozen reference pi_ref it is compared with, so every method starts from the same model."""
    copy = type(model).from_config(model.get_config())
    copy.build()
    copy.set_weights(model.get_weights())
    copy.trainable = trainable
    return copy


def _texts(tokenizer, ids):
    return [tokenizer.decode(row[1:]) for row in np.asarray(ids)]


def _rewards(reward_fn, texts):
    """reward_fn(texts), checked: one finite number per text."""
    rewards = np.asarray(reward_fn(texts), dtype="float32")
    if rewards.shape != (len(texts),) or not np.isfinite(rewards).all():
        raise ValueError(f"reward_fn must return one finite reward per text: {len(texts)} texts gave "
                         f"shape {rewards.shape}{'' if np.isfinite(rewards).all() else ' with NaN/inf'}")
    return rewards


def _check_same_vocabulary(policy, reference):
    if policy.tokenizer.vocab_size != reference.tokenizer.vocab_size:
        raise ValueError(f"policy and reference must share a tokenizer: vocabularies of {policy.tokenizer.vocab_size} "
                         f"and {reference.tokenizer.vocab_size} ids")


class _PairModel(SequenceModel):
    """Trains on preference pairs: fit(preferred_ids, rejected_ids) or a dataset of such pairs."""

    def _vocab_sizes(self):
        return (self.tokenizer.vocab_size, self.tokenizer.vocab_size)

    def _data_help(self):
        return (f"{type(self).__name__} trains on preference pairs: fit(preferred_ids, rejected_ids), two int "
                "arrays (pairs, length) from tokenizer.encode_batch(texts, add_start=True, add_end=True), or a "
                "dataset of (preferred, rejected) batches")

    def _pair_losses(self, data, training):
        raise NotImplementedError

    def train_step(self, data):
        with tf.GradientTape() as tape:
            per_pair, figures = self._pair_losses(data, training=True)
            loss = losses.reduce_for_replicas(per_pair)
        minimize(self.optimizer, tape, loss, self.trainable_weights)
        return self._update_trackers(loss=ops.mean(per_pair), **figures)

    def test_step(self, data):
        per_pair, figures = self._pair_losses(data, training=False)
        return self._update_trackers(loss=ops.mean(per_pair), **figures)


@keras.saving.register_keras_serializable(package="keras_genai")
class RewardModel(_PairModel):
    """r(x): embedding -> GRU (padding masked) -> one number per sequence.

    Bradley-Terry fixes only differences of rewards, so r is defined up to a constant; `pair_accuracy`
    is the share of pairs with r(x_w) > r(x_l).
    """

    def __init__(self, tokenizer, embedding_dim=32, units=64, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizers.deserialize(tokenizer)
        self.embedding_dim = _checks.check_positive_int(embedding_dim, "embedding_dim")
        self.units = _checks.check_positive_int(units, "units")
        self.embedding = layers.Embedding(self.tokenizer.vocab_size, self.embedding_dim, mask_zero=True,
                                          name="embedding")
        self.rnn = layers.GRU(self.units, name="gru")
        self.head = layers.Dense(1, name="reward")
        self._make_trackers("loss", "pair_accuracy")

    def build(self, input_shape=None):
        self.embedding.build((None, None))
        self.rnn.build((None, None, self.embedding_dim))
        self.head.build((None, self.units))
        self.built = True

    def call(self, ids, training=False):
        """ids (batch, length) -> rewards (batch,)."""
        x = self.embedding(ids)
        return self.head(self.rnn(x, mask=self.embedding.compute_mask(ids), training=training))[:, 0]

    def _pair_losses(self, data, training):
        preferred, rejected = data[0], data[1]
        r_w, r_l = self(preferred, training=training), self(rejected, training=training)
        return losses.bradley_terry(r_w, r_l), {"pair_accuracy": ops.mean(ops.cast(r_w > r_l, "float32"))}

    def score(self, texts, batch_size=512):
        """Rewards of a list of strings (characters outside the vocabulary map to the unknown id)."""
        ids = self.tokenizer.encode_batch(list(texts), add_start=True, add_end=True, unknown="map")
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        return np.concatenate([to_numpy(self(ids[i:i + batch_size]))
                               for i in range(0, len(ids), batch_size)])

    def get_config(self):
        config = super().get_config()
        config.update(tokenizer=tokenizers.serialize(self.tokenizer), embedding_dim=self.embedding_dim,
                      units=self.units)
        return config


class DPO(_PairModel):
    """Direct preference optimisation of `policy` on pairs, against the frozen `reference`.

    Only the policy is trained (save the policy, not this wrapper). `reward_accuracy` is the share of
    pairs whose implicit reward beta * log(pi / pi_ref) ranks the preferred sequence higher; `margin`
    is the mean implicit-reward difference.
    """

    def __init__(self, policy, reference, beta=0.1, **kwargs):
        super().__init__(**kwargs)
        _check_same_vocabulary(policy, reference)
        self.policy, self.reference, self.tokenizer = policy, reference, policy.tokenizer
        self.reference.trainable = False
        self.beta = _checks.check_positive_number(beta, "beta")
        self._make_trackers("loss", "reward_accuracy", "margin")

    def call(self, ids, training=False):
        return self.policy(ids, training=training)

    def _pair_losses(self, data, training):
        preferred, rejected = data[0], data[1]
        pi_w, pi_l = (sequence_log_probs(self.policy, x, training) for x in (preferred, rejected))
        ref_w, ref_l = (ops.stop_gradient(sequence_log_probs(self.reference, x)) for x in (preferred, rejected))
        margin = self.beta * ((pi_w - ref_w) - (pi_l - ref_l))
        return (losses.dpo(pi_w, pi_l, ref_w, ref_l, self.beta),
                {"reward_accuracy": ops.mean(ops.cast(margin > 0, "float32")), "margin": ops.mean(margin)})


class PolicyGradient:
    """REINFORCE with a KL penalty, on samples the policy draws itself.

    Each step draws `batch_size` sequences x_i ~ pi, scores them with reward_fn(texts) -> rewards,
    and ascends

        R_i = r(x_i) - kl_weight * (log pi(x_i) - log pi_ref(x_i)),    A_i = R_i - mean_{j != i} R_j,
        loss = -mean_i A_i log pi(x_i).

    The penalised reward R makes the expected gradient that of E[r] - kl_weight * KL(pi || pi_ref)
    (log pi(x) - log pi_ref(x) is a one-sample estimate of the KL). The leave-one-out baseline
    lowers the variance and, not depending on x_i, adds no bias. It is not model.fit(): the
    training data are the policy's own samples, drawn afresh for every update.
    """

    def __init__(self, policy, reference, reward_fn, kl_weight=0.1, optimizer=None, batch_size=64,
                 max_new_tokens=20, seed=0):
        if isinstance(kl_weight, bool) or not isinstance(kl_weight, (int, float)) or not 0 <= kl_weight < np.inf:
            raise ValueError(f"kl_weight must be a non-negative number, got {kl_weight!r}")
        if not callable(reward_fn):
            raise TypeError("reward_fn must be a function from a list of texts to one reward per text")
        _check_same_vocabulary(policy, reference)
        self.policy, self.reference, self.reward_fn = policy, reference, reward_fn
        self.reference.trainable = False
        self.kl_weight = float(kl_weight)
        self.batch_size = _checks.check_positive_int(batch_size, "batch_size")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2: the leave-one-out baseline needs another sample")
        self.max_new_tokens = _checks.check_positive_int(max_new_tokens, "max_new_tokens")
        self.optimizer = loss_scaled(optimizer or keras.optimizers.Adam(1e-3), policy)
        self.rng = np.random.default_rng(seed)
        self.history = []
        self._update = tf.function(self._update_step, reduce_retracing=True)

    def _update_step(self, ids, rewards):
        with tf.GradientTape() as tape:
            log_pi = sequence_log_probs(self.policy, ids, training=True)
            log_ratio = ops.stop_gradient(log_pi - sequence_log_probs(self.reference, ids))
            penalised = rewards - self.kl_weight * log_ratio
            n = ops.cast(ops.shape(penalised)[0], "float32")
            advantage = penalised - (ops.sum(penalised) - penalised) / (n - 1.0)
            loss = -ops.mean(advantage * log_pi)
        minimize(self.optimizer, tape, loss, self.policy.trainable_weights)
        return {"reward": ops.mean(rewards), "kl": ops.mean(log_ratio), "loss": loss}

    def step(self):
        """One update on a fresh batch of samples; returns its reward and KL estimate (before the update)."""
        ids = self.policy.sample_ids(self.batch_size, self.max_new_tokens, rng=self.rng)
        rewards = _rewards(self.reward_fn, _texts(self.policy.tokenizer, ids))
        figures = {k: float(v) for k, v in self._update(tf.constant(ids), tf.constant(rewards)).items()}
        self.history.append(figures)
        return figures

    def run(self, steps):
        steps = _checks.check_positive_int(steps, "steps")
        return [self.step() for _ in range(steps)]


@dataclasses.dataclass(frozen=True)
class PolicySamples:
    """Samples of a policy with Monte Carlo estimates over them, in nats per sequence."""

    texts: list
    kl: float        # KL(pi || pi_ref): the mean of log pi(x) - log pi_ref(x), x ~ pi
    kl_se: float     # its standard error
    entropy: float   # H(pi): the mean of -log pi(x); it falls as the policy collapses onto few outputs


def sample_with_kl(policy, reference, num_samples=1000, max_new_tokens=20, seed=0):
    """num_samples draws of the policy (seeded) with its KL to the reference and its entropy."""
    ids = policy.sample_ids(num_samples, max_new_tokens, rng=np.random.default_rng(seed))
    log_pi = ops.convert_to_numpy(sequence_log_probs(policy, ids))
    ratios = log_pi - ops.convert_to_numpy(sequence_log_probs(reference, ids))
    return PolicySamples(_texts(policy.tokenizer, ids), float(ratios.mean()),
                         float(ratios.std() / np.sqrt(len(ratios))), float(-log_pi.mean()))


def best_of_n(model, reward_fn, n, num_samples, max_new_tokens=20, seed=0):
    """For each of num_samples outputs, draw n sequences and keep the one reward_fn scores highest.

    Its KL to the model is at most log(n) - (n - 1) / n nats (Beirami et al. 2024), 0.64 for n = 4.
    """
    n, num_samples = _checks.check_positive_int(n, "n"), _checks.check_positive_int(num_samples, "num_samples")
    ids = model.sample_ids(n * num_samples, max_new_tokens, rng=np.random.default_rng(seed))
    texts = _texts(model.tokenizer, ids)
    scores = _rewards(reward_fn, texts).reshape(num_samples, n)
    best = scores.argmax(axis=1)
    return [texts[i * n + b] for i, b in enumerate(best)]

