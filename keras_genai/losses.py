"""Losses as pure functions over `keras.ops`, each tested against its closed form.

Per-example functions return one value per example (summed over pixels / latent
dimensions, i.e. nats per image). `reduce_for_replicas` turns them into the scalar a
train_step differentiates, scaled so gradients are right under `tf.distribute`.

Network outputs enter every loss through `full_precision`: under a mixed-precision policy
layers return float16 or bfloat16, and sums over pixels or tokens need float32 (float16
loses digits in long sums and overflows past 65504).

Discriminators output logits D(x) = l; the probability "real" is sigmoid(l), and
  -log sigmoid(l) = softplus(-l),   -log(1 - sigmoid(l)) = softplus(l).
"""

import math

import tensorflow as tf
from keras import ops

from keras_genai import _checks
from keras_genai._checks import full_precision

LOG_2PI = math.log(2.0 * math.pi)


def _flat_sum(values):
    """Sum over every axis but the batch axis."""
    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1)


def reduce_for_replicas(per_example):
    """Mean over the local batch, divided by the number of replicas.

    Under a distribution strategy the gradients of the replicas are summed, so this
    equals the mean over the global batch; on one device it is the plain mean.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return ops.mean(per_example) / replicas


# --- GANs -----------------------------------------------------------------------------

def discriminator_loss(real_logits, fake_logits, real_label=1.0):
    """Per-example BCE of the discriminator: real -> `real_label`, fake -> 0.

    The discriminator maximises V(D, G) = E log D(x) + E log(1 - D(G(z))), i.e. minimises
    this. real_label=0.9 is one-sided label smoothing (fake labels stay 0).
    """
    real_logits = ops.reshape(full_precision(real_logits), (-1,))
    fake_logits = ops.reshape(full_precision(fake_logits), (-1,))
    real_term = real_label * ops.softplus(-real_logits) + (1.0 - real_label) * ops.softplus(real_logits)
    return real_term + ops.softplus(fake_logits)


def matching_discriminator_loss(real_logits, fake_logits, mismatched_logits, real_label=1.0):
    """Per-example loss of a text-conditional discriminator (Reed et al. 2016, GAN-CLS):

        -log D(x, c) - 1/2 [ log(1 - D(G(z, c), c)) + log(1 - D(x, c')) ],

    where c' is another example's caption. Without the mismatched term, D can tell real from fake
    by the image alone and has no reason to read the caption, and G then none to obey it.
    """
    mismatched_logits = ops.reshape(full_precision(mismatched_logits), (-1,))
    real_and_fake = discriminator_loss(real_logits, fake_logits, real_label)
    fake_term = ops.softplus(ops.reshape(full_precision(fake_logits), (-1,)))
    return real_and_fake - 0.5 * fake_term + 0.5 * ops.softplus(mismatched_logits)


def minimax_generator_loss(fake_logits):
    """Per-example E log(1 - D(G(z))), which the generator minimises (saturates early)."""
    return -ops.softplus(ops.reshape(full_precision(fake_logits), (-1,)))


def non_saturating_generator_loss(fake_logits):
    """Per-example -log D(G(z)): same fixed point, strong gradients when D wins."""
    return ops.softplus(-ops.reshape(full_precision(fake_logits), (-1,)))


GENERATOR_LOSSES = {
    "non_saturating": non_saturating_generator_loss,
    "minimax": minimax_generator_loss,
}


# --- Wasserstein GANs ----------------------------------------------------------------------
# The critic f outputs an unbounded score, higher for "more real" (not a probability). By the
# Kantorovich-Rubinstein duality, W(p_data, p_G) = max over 1-Lipschitz f of E f(x) - E f(G(z)):
# the critic maximises that difference and the generator minimises it.

def wasserstein_critic_loss(real_scores, fake_scores):
    """Per-example f(G(z)) - f(x): the critic minimises this, i.e. maximises E f(x) - E f(G(z))."""
    return ops.reshape(full_precision(fake_scores), (-1,)) - ops.reshape(full_precision(real_scores), (-1,))


def wasserstein_generator_loss(fake_scores):
    """Per-example -f(G(z)): the generator raises the critic's score of its samples."""
    return -ops.reshape(full_precision(fake_scores), (-1,))


def gradient_penalty(critic, real, fake, alpha):
    """Per-example (||grad_x f(x_hat)||_2 - 1)^2 at x_hat = alpha * x + (1 - alpha) * G(z).

    Gulrajani et al. (2017): the optimal critic has gradient norm 1 almost everywhere on the
    lines between real and generated points, so penalising the norm's distance from 1 there
    softly enforces the 1-Lipschitz constraint the duality needs. `critic` maps a batch to
    scores; `alpha` holds one uniform [0, 1] draw per example, broadcastable against `real`.
    """
    real, fake, alpha = (ops.convert_to_tensor(t, "float32") for t in (real, fake, alpha))
    interpolates = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        # Each score depends on its own example only, so the gradient of the sum is per example.
        total = ops.sum(full_precision(critic(interpolates)))
    grads = tape.gradient(total, interpolates)
    norms = ops.sqrt(_flat_sum(ops.square(grads)) + 1e-12)  # epsilon: sqrt has no gradient at 0
    return ops.square(norms - 1.0)


# --- VAEs and autoencoders ------------------------------------------------------------

def gaussian_kl_per_dimension(z_mean, z_log_var):
    """KL( N(mu_j, sigma_j^2) || N(0, 1) ) of each latent dimension j, shape (n, latent_dim), in nats:
    1/2 ( sigma_j^2 + mu_j^2 - 1 - log sigma_j^2 ). Averaged over data, a dimension near 0 is unused."""
    z_mean, z_log_var = full_precision(z_mean), full_precision(z_log_var)
    return 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var)


def gaussian_kl(z_mean, z_log_var):
    """KL( N(mu, sigma^2) || N(0, I) ) per example, in nats: the sum of the per-dimension KLs."""
    return ops.sum(gaussian_kl_per_dimension(z_mean, z_log_var), axis=-1)


def bernoulli_nll(x, logits):
    """-log p(x | z) for pixels in [0, 1] under Bernoulli(sigmoid(logits)), per example.

    Equals binary cross-entropy summed over pixels, computed stably from logits:
    softplus(l) - x * l.
    """
    logits = full_precision(logits)
    return _flat_sum(ops.softplus(logits) - x * logits)


def gaussian_nll(x, mean, log_var):
    """-log N(x; mean, exp(log_var)) summed over pixels, per example."""
    mean, log_var = full_precision(mean), full_precision(log_var)
    return _flat_sum(0.5 * (LOG_2PI + log_var + ops.square(x - mean) * ops.exp(-log_var)))


def squared_error(x, reconstruction):
    """Sum of squared errors per example (MSE times the number of pixels)."""
    return _flat_sum(ops.square(x - full_precision(reconstruction)))


def binary_crossentropy(x, probabilities, epsilon=1e-7):
    """Binary cross-entropy summed over pixels per example, for probabilities in (0, 1)."""
    p = ops.clip(full_precision(probabilities), epsilon, 1.0 - epsilon)
    return _flat_sum(-(x * ops.log(p) + (1.0 - x) * ops.log(1.0 - p)))


# --- Sequences ----------------------------------------------------------------------------

def token_cross_entropy(targets, logits, pad_id=0):
    """-log p(target) summed over the non-padding targets, and how many there are.

    Padding never counts: a padded and an unpadded batch of the same texts give the same
    (sum, count), so the mean nats per token sum / count is independent of padding.
    """
    logits = full_precision(logits)
    mask = ops.cast(ops.not_equal(targets, pad_id), logits.dtype)
    nll = ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return ops.sum(nll * mask), ops.sum(mask)


# --- Contrastive learning -------------------------------------------------------------------
# SimCLR (Chen et al. 2020): two augmented views of each of N images give 2N projections. For each
# one, the other view of the same image is the positive and the remaining 2N - 2 are negatives.

def contrastive_logits(z1, z2, temperature=0.5):
    """The (2N, 2N) logits cos(z_i, z_k) / temperature of NT-Xent, and each row's positive index.

    Rows 0..N-1 are the first views, N..2N-1 the second, so row i's positive is (i + N) mod 2N.
    The diagonal (each projection against itself, always cosine 1) is masked to -1e9, which
    leaves the 2N - 1 real candidates. Only directions count: both views are L2-normalised.
    """
    temperature = _checks.check_positive_number(temperature, "temperature")
    z1, z2 = ops.convert_to_tensor(z1, "float32"), ops.convert_to_tensor(z2, "float32")
    if len(z1.shape) != 2 or tuple(z1.shape) != tuple(z2.shape):
        raise ValueError(f"z1 and z2 must be the two views' projections, both of shape (n, projection_dim), "
                         f"got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z = ops.normalize(ops.concatenate([z1, z2], axis=0), axis=1)
    n2 = ops.shape(z)[0]
    logits = ops.where(ops.eye(n2, dtype="bool"), -1e9, ops.matmul(z, ops.transpose(z)) / temperature)
    positives = (ops.arange(n2) + n2 // 2) % n2
    return logits, positives


def nt_xent(z1, z2, temperature=0.5):
    """NT-Xent (InfoNCE) loss per projection, shape (2N,), in nats:

        l_i = -log( exp(s_ip / t) / sum_{k != i} exp(s_ik / t) ),   s = cosine similarity,

    the cross-entropy of classifying the positive p among the 2N - 1 other projections. A collapsed
    encoder (all projections equal) scores log(2N - 1), chance. The temperature t sharpens the softmax:
    a small t puts the weight on the hardest negatives (most similar to the anchor).
    """
    logits, positives = contrastive_logits(z1, z2, temperature)
    return ops.sparse_categorical_crossentropy(positives, logits, from_logits=True)


# --- Learning from preferences ----------------------------------------------------------------
# A preference pair (x_w, x_l): a rater preferred x_w. Bradley-Terry models the chance of that as
# sigmoid(r(x_w) - r(x_l)) for a scalar reward r; both losses below are -log of that chance.

def _pair(a, b, names):
    a, b = ops.convert_to_tensor(a, "float32"), ops.convert_to_tensor(b, "float32")
    if len(a.shape) != 1 or tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{names[0]} and {names[1]} must be 1-D with one value per pair, "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return a, b


def bradley_terry(preferred_rewards, rejected_rewards):
    """Per-pair -log sigmoid(r_w - r_l) = softplus(r_l - r_w): a reward model's loss on preference pairs.

    Only differences of rewards count, so a reward model is defined up to a constant.
    """
    r_w, r_l = _pair(preferred_rewards, rejected_rewards, ("preferred_rewards", "rejected_rewards"))
    return ops.softplus(r_l - r_w)


def dpo(policy_preferred, policy_rejected, reference_preferred, reference_rejected, beta=0.1):
    """Per-pair DPO loss (Rafailov et al. 2023) from sequence log-probabilities:

        -log sigmoid(beta * [(log pi(x_w) - log pi_ref(x_w)) - (log pi(x_l) - log pi_ref(x_l))]).

    It is Bradley-Terry with the implicit reward beta * log(pi / pi_ref): the policy that maximises
    E[r] - beta KL(pi || pi_ref) is pi_ref * exp(r / beta) / Z, so fitting that reward to the pairs
    fits the policy directly, without a reward model or sampling.
    """
    beta = _checks.check_positive_number(beta, "beta")
    pi_w, pi_l = _pair(policy_preferred, policy_rejected, ("policy_preferred", "policy_rejected"))
    ref_w, ref_l = _pair(reference_preferred, reference_rejected, ("reference_preferred", "reference_rejected"))
    return bradley_terry(beta * (pi_w - ref_w), beta * (pi_l - ref_l))
