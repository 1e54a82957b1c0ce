"""Image-to-image translation (pix2pix, Isola et al. 2017): learn y = G(x) from (input, target) pairs.

    L_G = l1_weight * E|y - G(x)|  +  E[-log D(x, G(x))]        (per pixel, per patch)
    L_D = E[-log D(x, y)] + E[-log(1 - D(x, G(x)))]

The L1 term alone is regression: where the input leaves the output ambiguous (a low-resolution
or outlined digit), the best L1 answer is the per-pixel median of the possibilities, a blur. The
conditional discriminator D(x, .) sees input and output together and punishes outputs that do not
look like real targets *for that input*, which trades some distortion (PSNR) for sharpness.
Super-resolution, denoising and inpainting are the same model with other pairs and generators
(keras_genai.nets.translation_unet, super_resolution_net, patch_discriminator).
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_genai import _checks, losses
from keras_genai.models._base import (
    GenerativeModel, _in_memory, deserialize_nets, in_batches, loss_scaled, minimize, serialize_nets,
)
from keras_genai.models.gan import default_gan_optimizer


def _single_input_shape(net, name):
    if isinstance(net.input_shape, list):
        raise ValueError(f"the {name} must take one input image, got {len(net.input_shape)} inputs")
    return tuple(net.input_shape[1:])


@keras.saving.register_keras_serializable(package="keras_genai")
class Pix2Pix(GenerativeModel):
    """generator: input image in [0, 1] -> output image (read in [0, 1]); discriminator: [input, output] -> logits
    (one per patch), or None for L1 regression alone (the baseline pix2pix improves on).

    Training data are (inputs, targets) pairs: fit(x, y) or a dataset of pairs. l1_weight: pix2pix's
    lambda (100), which keeps G close to the target while D sharpens it. It scales the L1-only loss too, so
    the two settings differ by the adversarial term alone; it also matters there: the mean absolute error
    per pixel is small (~0.05), and unscaled, Adam's epsilon (1e-7) damped the updates enough to halve the
    progress of 450 steps (7x7 -> 28x28 super-resolution: L1 0.071 unscaled, 0.037 scaled by 100). Tracked: "l1" (mean absolute
    error per pixel), and with a discriminator "adversarial" (G's -log D per patch), "d_loss" and
    "d_acc". Each step updates D on the current fakes, then G against the updated D.
    """

    def __init__(self, generator, discriminator=None, l1_weight=100.0, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.data_shape = _single_input_shape(generator, "generator")
        self.target_shape = tuple(generator.output_shape[1:])
        if discriminator is not None:
            shapes = discriminator.input_shape
            if not isinstance(shapes, list) or len(shapes) != 2:
                raise ValueError("the discriminator must take [input image, candidate output] "
                                 "(build it with keras_genai.nets.patch_discriminator)")
            if (tuple(shapes[0][1:]), tuple(shapes[1][1:])) != (self.data_shape, self.target_shape):
                raise ValueError(f"the discriminator takes [{tuple(shapes[0][1:])}, {tuple(shapes[1][1:])}], but the "
                                 f"generator maps {self.data_shape} -> {self.target_shape}")
        self.l1_weight = _checks.check_positive_number(l1_weight, "l1_weight")
        names = ("l1",) if discriminator is None else ("l1", "adversarial", "d_loss", "d_acc")
        self._make_trackers(*names)
        self.built = True

    def compile(self, g_optimizer=None, d_optimizer=None, **kwargs):
        """Two Adam(2e-4, beta_1=0.5) optimizers by default, pix2pix's setting."""
        super().compile(**kwargs)
        if d_optimizer is not None and d_optimizer is g_optimizer:
            raise ValueError("use two optimizer instances: each keeps its own state for its own network")
        self.g_optimizer = loss_scaled(g_optimizer or default_gan_optimizer(), self)
        self.d_optimizer = None if self.discriminator is None else loss_scaled(d_optimizer or default_gan_optimizer(), self)
        for optimizer, net in ((self.g_optimizer, self.generator), (self.d_optimizer, self.discriminator)):
            if optimizer is not None and not optimizer.built:  # in the strategy scope; load_model fills the slots
                optimizer.build(net.trainable_variables)

    def get_compile_config(self):
        return {"g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
                "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer)}

    def compile_from_config(self, config):
        self.compile(**deserialize_nets(dict(config), "g_optimizer", "d_optimizer"))

    # --- input checks ---------------------------------------------------------------------------

    def check_targets(self, y, name="targets"):
        return _checks.check_images(y, self.target_shape, self.value_range, name)

    def _check_data(self, data, name):
        need = (f"{type(self).__name__} trains on (inputs, targets) pairs: inputs {self.data_shape}, "
                f"targets {self.target_shape}, both floats in [0, 1]")
        if data is None:
            raise ValueError(f"fit()/evaluate() needs data: {name} is None")
        if hasattr(data, "element_spec"):
            spec = data.element_spec
            if not isinstance(spec, (tuple, list)) or len(spec) < 2:
                raise ValueError(f"{name} yields single tensors. {need}")
            for part, expected in zip(spec[:2], (self.data_shape, self.target_shape)):
                if tuple(part.shape[1:]) != expected or not part.dtype.is_floating:
                    raise ValueError(f"{name} yields {part.dtype.name} {tuple(part.shape[1:])} tensors. {need}")
            data = tuple(np.asarray(part) for part in next(iter(data.take(1)))[:2])
        elif not _in_memory(data):
            return
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise ValueError(f"{name} comes without targets. {need}")
        inputs, targets = self.check_inputs(data[0], f"{name} inputs"), self.check_targets(data[1], f"{name} targets")
        if len(inputs) != len(targets):
            raise ValueError(f"{name} has {len(inputs)} inputs but {len(targets)} targets")

    # --- training ---------------------------------------------------------------------------------

    def _discriminator_figures(self, x, y, fake, training):
        real_logits = self.discriminator([x, y], training=training)
        fake_logits = self.discriminator([x, fake], training=training)
        per_patch = losses.discriminator_loss(real_logits, fake_logits)
        correct = ops.concatenate([ops.reshape(ops.cast(real_logits > 0, "float32"), (-1,)),
                                   ops.reshape(ops.cast(fake_logits < 0, "float32"), (-1,))])
        return per_patch, ops.mean(correct)

    def _l1(self, y, fake):
        """Mean absolute error per example (per pixel)."""
        return ops.mean(ops.reshape(ops.abs(y - _checks.full_precision(fake)), (ops.shape(y)[0], -1)), axis=1)

    def train_step(self, data):
        x, y = data[0], data[1]
        with tf.GradientTape() as g_tape:
            fake = self.generator(x, training=True)
            l1 = self._l1(y, fake)
            if self.discriminator is None:
                g_loss = losses.reduce_for_replicas(self.l1_weight * l1)
            else:
                with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                    d_per_patch, d_acc = self._discriminator_figures(x, y, ops.stop_gradient(fake), training=True)
                    d_loss = losses.reduce_for_replicas(d_per_patch)
                minimize(self.d_optimizer, d_tape, d_loss, self.discriminator.trainable_weights)
                adversarial = losses.non_saturating_generator_loss(self.discriminator([x, fake], training=True))
                g_loss = losses.reduce_for_replicas(self.l1_weight * l1) + losses.reduce_for_replicas(adversarial)
        minimize(self.g_optimizer, g_tape, g_loss, self.generator.trainable_weights)
        if self.discriminator is None:
            return self._update_trackers(l1=ops.mean(l1))
        return self._update_trackers(l1=ops.mean(l1), adversarial=ops.mean(adversarial),
                                     d_loss=ops.mean(d_per_patch), d_acc=d_acc)

    def test_step(self, data):
        x, y = data[0], data[1]
        fake = self.generator(x, training=False)
        l1 = ops.mean(self._l1(y, fake))
        if self.discriminator is None:
            return self._update_trackers(l1=l1)
        d_per_patch, d_acc = self._discriminator_figures(x, y, fake, training=False)
        adversarial = losses.non_saturating_generator_loss(self.discriminator([x, fake], training=False))
        return self._update_trackers(l1=l1, adversarial=ops.mean(adversarial), d_loss=ops.mean(d_per_patch),
                                     d_acc=d_acc)

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def translate(self, x, batch_size=500):
        """G(x) for a NumPy batch of inputs in [0, 1], as NumPy, clipped to [0, 1] (the package's generators
        have a linear output, which may overshoot slightly)."""
        return np.clip(in_batches(self.generator, self.check_inputs(x, "inputs"), batch_size), 0.0, 1.0)

    def get_config(self):
        return {**super().get_config(), **serialize_nets(generator=self.generator, discriminator=self.discriminator),
                "l1_weight": self.l1_weight}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("discriminator") is None:
            config["discriminator"] = None
            return cls(**deserialize_nets(config, "generator"))
        return cls(**deserialize_nets(config, "generator", "discriminator"))
