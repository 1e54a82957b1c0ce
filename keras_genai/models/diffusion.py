"""Diffusion models (Ho et al. 2020; Song et al. 2021): learn to remove noise, then generate by
removing it step by step from pure noise.

Forward process, in closed form for a continuous time t in [0, 1]:
    q(x_t | x_0) = N(sqrt(abar(t)) x_0, (1 - abar(t)) I),   x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps,
abar falling from ~1 (clean) to ~0 (pure noise). The network eps_theta(x_t, t) predicts eps; the
simplified loss E ||eps - eps_theta(x_t, t)||^2 is the ELBO with its per-time weights dropped, and
predicting eps is denoising score matching: grad log q(x_t) = -eps / sqrt(1 - abar).
Sampling walks a grid of times from 1 to 0: DDIM (eta = 0, deterministic given the starting noise)
or ancestral DDPM (eta = 1, fresh noise at every step), with any number of steps.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import (GenerativeModel, LabelConditioned, deserialize_nets, draw_for_replica,
                                      images_of, minimize, serialize_nets)

SCHEDULES = ("cosine", "linear")
SAMPLERS = {"ddim": 0.0, "ddpm": 1.0}  # eta: the share of the posterior's noise added at each step
ALPHA_BAR_RANGE = (1e-5, 0.9999)  # keeps 1/sqrt(abar) and 1/sqrt(1 - abar) finite at t = 1 and t = 0


def alpha_bar(t, schedule="cosine"):
    """abar(t), the signal's share of the variance of x_t (NumPy or tensor t in [0, 1]).

    cosine (Nichol & Dhariwal 2021): cos^2(pi/2 (t + s) / (1 + s)) / cos^2(pi/2 s / (1 + s)), s = 0.008;
    linear: the continuous limit of DDPM's 1,000 betas rising linearly from 1e-4 to 0.02,
    abar(t) = exp(-(0.1 t + 9.95 t^2)), which destroys most of the signal by t = 0.5.
    """
    _checks.check_choice(schedule, SCHEDULES, "schedule")
    t = ops.convert_to_tensor(t, "float32")
    if schedule == "cosine":
        s = 0.008
        value = ops.cos((t + s) / (1 + s) * math.pi / 2) ** 2 / math.cos(s / (1 + s) * math.pi / 2) ** 2
    else:
        value = ops.exp(-(0.1 * t + 0.5 * (20.0 - 0.1) * t**2))
    return ops.clip(value, *ALPHA_BAR_RANGE)


def _check_unit_interval(value, name):
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="keras_genai")
class DiffusionModel(GenerativeModel):
    """A denoiser network (keras_genai.nets.unet) trained to predict the noise, with an EMA copy for sampling.

    network: [noisy image, t] -> predicted noise (or v), same shape as the image.
    schedule: "cosine" or "linear" abar(t).  prediction: "epsilon" (the noise) or "v" =
        sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022; better behaved near t = 1).
    ema_decay: the sampling network's weights follow w_ema <- d w_ema + (1 - d) w after every step,
        with d = min(ema_decay, (1 + step) / (10 + step)) so that early steps are not averaged with the
        random initial weights for thousands of steps. Samples come from the EMA weights.
    Training data are images in value_range (-1, 1), like a GAN's.
    """

    TRACKERS = ("loss",)

    def __init__(self, network, schedule="cosine", prediction="epsilon", ema_decay=0.999,
                 value_range=(-1.0, 1.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.data_shape = self._network_shape(network)
        self.schedule = _checks.check_choice(schedule, SCHEDULES, "schedule")
        self.prediction = _checks.check_choice(prediction, {"epsilon", "v"}, "prediction")
        self.ema_decay = _check_unit_interval(ema_decay, "ema_decay")
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_network = keras.models.clone_model(network)
        self.ema_network.set_weights(network.get_weights())
        self.ema_network.trainable = False  # updated by _update_ema, never by the optimizer
        self._make_trackers(*self.TRACKERS)
        self.built = True

    def _network_shape(self, network):
        shapes = network.input_shape
        if not isinstance(shapes, list) or len(shapes) != 2:
            raise ValueError(f"the network must take [noisy image, t], got input shape {shapes} "
                             "(build it with keras_genai.nets.unet; a label input needs ConditionalDiffusionModel)")
        return self._check_denoiser(network, shapes)

    @staticmethod
    def _check_denoiser(network, shapes):
        image_shape = tuple(shapes[0][1:])
        if tuple(network.output_shape[1:]) != image_shape or tuple(shapes[1][1:]) != ():
            raise ValueError(f"the network must map [image, t of shape (batch,)] to an output of the image's shape, "
                             f"got inputs {shapes} and output {network.output_shape}")
        return image_shape

    # --- the forward process and the loss ---

    def noisy(self, x0, t, noise):
        """x_t = sqrt(abar(t)) x_0 + sqrt(1 - abar(t)) noise (t of shape (batch,))."""
        a = ops.reshape(alpha_bar(t, self.schedule), (-1,) + (1,) * len(self.data_shape))
        return ops.sqrt(a) * x0 + ops.sqrt(1.0 - a) * noise

    def _target(self, x0, noise, t):
        if self.prediction == "epsilon":
            return noise
        a = ops.reshape(alpha_bar(t, self.schedule), (-1,) + (1,) * len(self.data_shape))
        return ops.sqrt(a) * noise - ops.sqrt(1.0 - a) * x0

    def _draws(self, batch_size):
        def draw(n):
            return (keras.random.normal((n, *self.data_shape), seed=self.seed_generator),
                    keras.random.uniform((n,), seed=self.seed_generator))
        # One draw of (noise, t) per example, so that a replica's slice keeps each pair together.
        noise = draw_for_replica(lambda n: ops.concatenate([ops.reshape(a, (n, -1)) for a in draw(n)], axis=1),
                                 batch_size)
        size = math.prod(self.data_shape)
        return ops.reshape(noise[:, :size], (-1, *self.data_shape)), noise[:, size]

    def _train_labels(self, labels, batch_size):
        return None  # the conditional subclass drops labels for classifier-free guidance

    def _predict(self, network, x_t, t, labels, training):
        return network([x_t, t], training=training)

    def _per_example_loss(self, x0, labels, training):
        noise, t = self._draws(ops.shape(x0)[0])
        prediction = _checks.full_precision(self._predict(self.network, self.noisy(x0, t, noise), t, labels, training))
        error = ops.square(prediction - self._target(x0, noise, t))
        return ops.mean(ops.reshape(error, (ops.shape(x0)[0], -1)), axis=1)

    def _split(self, data):
        return images_of(data), None

    def train_step(self, data):
        x0, labels = self._split(data)
        labels = self._train_labels(labels, ops.shape(x0)[0])
        with tf.GradientTape() as tape:
            per_example = self._per_example_loss(x0, labels, training=True)
            loss = losses.reduce_for_replicas(per_example)
        weights = self.network.trainable_variables
        minimize(self.optimizer, tape, loss, weights)
        self._update_ema()
        return self._update_trackers(loss=ops.mean(per_example))

    def test_step(self, data):
        x0, labels = self._split(data)
        return self._update_trackers(loss=ops.mean(self._per_example_loss(x0, labels, training=False)))

    def _update_ema(self):
        step = ops.cast(self.optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        pairs = [pair for ema_layer, layer in zip(self.ema_network.layers, self.network.layers)
                 for pair in zip(ema_layer.weights, layer.weights)]
        for ema_weight, weight in pairs:
            ema_weight.assign(decay * ema_weight + (1.0 - decay) * weight)

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    # --- sampling ---

    def _predict_x0(self, x_t, a, prediction):
        if self.prediction == "epsilon":
            return (x_t - ops.sqrt(1.0 - a) * prediction) / ops.sqrt(a)
        return ops.sqrt(a) * x_t - ops.sqrt(1.0 - a) * prediction

    def _guided(self, network, x_t, t, labels, guidance):
        return self._predict(network, x_t, t, labels, training=False)

    def _make_step(self, network):
        low, high = self.value_range

        @tf.function(reduce_retracing=True)
        def step(x_t, t, t_next, labels, guidance, eta, noise):
            a, a_next = alpha_bar(t, self.schedule), alpha_bar(t_next, self.schedule)
            times = ops.full((ops.shape(x_t)[0],), t)
            prediction = _checks.full_precision(self._guided(network, x_t, times, labels, guidance))
            x0 = ops.clip(self._predict_x0(x_t, a, prediction), low, high)
            eps = (x_t - ops.sqrt(a) * x0) / ops.sqrt(1.0 - a)  # the noise that the clipped x_0 implies
            sigma = eta * ops.sqrt((1.0 - a_next) / (1.0 - a) * (1.0 - a / a_next))
            direction = ops.sqrt(ops.maximum(1.0 - a_next - sigma**2, 0.0))
            return ops.sqrt(a_next) * x0 + direction * eps + sigma * noise, x0

        return step

    def _check_sampling(self, steps, sampler):
        steps = _checks.check_positive_int(steps, "steps")
        _checks.check_choice(sampler, set(SAMPLERS), "sampler")
        return steps, SAMPLERS[sampler]

    def _sample(self, n, steps, sampler, labels, guidance, seed, batch_size, use_ema, return_path):
        steps, eta = self._check_sampling(steps, sampler)
        batch_size = _checks.check_positive_int(batch_size, "batch_size")
        network = self.ema_network if use_ema else self.network
        if getattr(self, "_step_network", None) is not network:
            self._step, self._step_network = self._make_step(network), network
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, *self.data_shape)).astype("float32")
        # t = 1 would start from abar = 1e-5, a sliver of signal; the grid ends at t = 0 (abar ~ 1), where
        # x_0's estimate is the sample.
        times = np.linspace(1.0, 0.0, steps + 1).astype("float32")
        path, results = [], []
        for start in range(0, n, batch_size):
            part = slice(start, start + batch_size)
            x_part = ops.convert_to_tensor(x[part])
            part_labels = None if labels is None else ops.convert_to_tensor(labels[part])
            for t, t_next in zip(times[:-1], times[1:]):
                noise = rng.standard_normal(x[part].shape).astype("float32") if eta else np.zeros_like(x[part])
                x_part, x0 = self._step(x_part, ops.convert_to_tensor(t), ops.convert_to_tensor(t_next), part_labels,
                                        float(guidance), eta, noise)
                if return_path and start == 0:
                    path.append(ops.convert_to_numpy(x_part))
            results.append(ops.convert_to_numpy(x0))
            if return_path and start == 0:
                path[-1] = results[0]  # the last step's state is its estimate of x_0: the sample
        samples = np.concatenate(results)
        return (samples, np.stack(path, axis=1)) if return_path else samples

    def generate(self, n, steps=50, sampler="ddim", seed=None, batch_size=500, use_ema=True, return_path=False):
        """n samples in value_range after `steps` denoising steps from t = 1 to t = 0.

        sampler="ddim": deterministic given the starting noise (drawn with NumPy's `seed`); "ddpm":
        ancestral sampling, fresh noise at every step (from the same seed). return_path: also the
        states x_t of the first batch after every step, shape (min(n, batch_size), steps, ...).
        """
        n = _checks.check_positive_int(n, "n")
        return self._sample(n, steps, sampler, None, 1.0, seed, batch_size, use_ema, return_path)

    def get_config(self):
        return {**super().get_config(), **serialize_nets(network=self.network), "schedule": self.schedule,
                "prediction": self.prediction, "ema_decay": self.ema_decay,
                "value_range": list(self.value_range), "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_nets(dict(config), "network"))


@keras.saving.register_keras_serializable(package="keras_genai")
class ConditionalDiffusionModel(LabelConditioned, DiffusionModel):
    """A class-conditional diffusion model with classifier-free guidance (Ho & Salimans 2021).

    The network takes [noisy image, t, label] with labels in [0, num_classes]; the index num_classes
    means "no label". In training each label is replaced by it with probability label_dropout, so one
    network learns both eps(x_t, t, y) and eps(x_t, t). Sampling with guidance w uses
        eps_u + w (eps_c - eps_u):
    w = 1 is plain conditional sampling, w = 0 unconditional, w > 1 pushes the samples towards what
    makes the label likely (sharper, more recognisable, less varied).
    """

    def __init__(self, network, num_classes, label_dropout=0.1, **kwargs):
        self._set_num_classes(num_classes)
        self.label_dropout = _check_unit_interval(label_dropout, "label_dropout")
        super().__init__(network, **kwargs)

    def _network_shape(self, network):
        shapes = network.input_shape
        if not isinstance(shapes, list) or len(shapes) != 3 or tuple(shapes[2][1:]) != ():
            raise ValueError(f"the network must take [noisy image, t, label] with labels of shape (batch,), got "
                             f"input shape {shapes} (build it with keras_genai.nets.unet(num_classes=...))")
        return self._check_denoiser(network, shapes[:2])

    def _split(self, data):
        return LabelConditioned._split(data)

    def _train_labels(self, labels, batch_size):
        dropped = draw_for_replica(lambda n: keras.random.uniform((n,), seed=self.seed_generator), batch_size)
        return ops.where(dropped < self.label_dropout, self.num_classes, labels)

    def _predict(self, network, x_t, t, labels, training):
        return network([x_t, t, labels], training=training)

    def _guided(self, network, x_t, t, labels, guidance):
        # guidance is a Python float (one trace per scale): w = 1 and w = 0 need only one of the two branches
        if guidance == 1.0:
            return self._predict(network, x_t, t, labels, training=False)
        if guidance == 0.0:
            return self._predict(network, x_t, t, ops.full_like(labels, self.num_classes), training=False)
        both = self._predict(network, ops.concatenate([x_t, x_t]), ops.concatenate([t, t]),
                             ops.concatenate([labels, ops.full_like(labels, self.num_classes)]), training=False)
        conditional, unconditional = ops.split(both, 2)
        return unconditional + guidance * (conditional - unconditional)

    def generate(self, n=None, labels=None, steps=50, sampler="ddim", guidance=1.0, seed=None, batch_size=500,
                 use_ema=True, return_path=False):
        """Samples of the requested labels (one class per sample, or one for all n); guidance: the
        classifier-free guidance scale w >= 0 (1: conditional, 0: unconditional). Otherwise as
        DiffusionModel.generate."""
        if not (isinstance(guidance, (int, float)) and not isinstance(guidance, bool) and guidance >= 0):
            raise ValueError(f"guidance must be a number >= 0 (1: plain conditional sampling), got {guidance!r}")
        labels = self._resolve_labels(n, labels)
        return self._sample(len(labels), steps, sampler, labels, guidance, seed, batch_size, use_ema, return_path)

    def _resolve_labels(self, n, labels):
        if labels is None:
            raise ValueError(f"{type(self).__name__}.generate needs labels=: the class of each sample (integers "
                             f"in [0, {self.num_classes - 1}]), or one class for all n samples; guidance needs them too")
        if np.ndim(labels) == 0:
            if n is None:
                raise ValueError("a single label needs n to say how many samples to generate")
            labels = np.full(_checks.check_positive_int(n, "n"), labels)
        return self.check_labels(labels, n)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "label_dropout": self.label_dropout}
