"""Class-conditional generators: the label y is an input of every network, so you choose what comes out.

ConditionalGAN:  min_G max_D  E_{x,y} log D(x, y) + E_{z,y} log(1 - D(G(z, y), y))
ConditionalVAE:  log p(x | y) >= E_{q(z|x,y)} log p(x | z, y) - KL(q(z | x, y) || p(z))
CaptionGAN:      the ConditionalGAN with a sentence for y, read by a GRU inside each network

Build the networks with keras_genai.nets (num_classes=...): they take [z, label] or [image, label],
labels being integer class indices of shape (batch,).
"""

import keras
import numpy as np
from keras import ops

from keras_genai import _checks, losses, tokenizers
from keras_genai.models._base import LabelConditioned, to_numpy
from keras_genai.models._sequence import check_ids
from keras_genai.models.gan import GAN
from keras_genai.models.vae import VAE


def _tensor(labels):
    # Keras refuses a list input mixing a tensor and a NumPy array.
    return ops.convert_to_tensor(labels, "int32")


def _two_input_shapes(net, name, first):
    """(first input's per-example shape) of a network taking [first, label]."""
    shapes = net.input_shape
    if not isinstance(shapes, list) or len(shapes) != 2 or tuple(shapes[1][1:]) != ():
        raise ValueError(f"the {name} must take two inputs [{first}, label] with labels of shape (batch,), "
                         f"got input shape {shapes} (build it with keras_genai.nets and num_classes=...)")
    return tuple(shapes[0][1:])


@keras.saving.register_keras_serializable(package="keras_genai")
class ConditionalGAN(LabelConditioned, GAN):
    """A GAN whose generator G(z, y) and discriminator D(x, y) both see the class label.

    The fakes of a training step carry the labels of the real batch, so G learns p(x | y) for
    the labels in proportion to the data. D judges "is x a real example *of class y*": a sharp
    image of the wrong digit is a fake, which is what forces G to obey the label.
    Everything else (losses, d_steps, optimizers, saving) is the GAN's.
    """

    def __init__(self, generator, discriminator, num_classes, d_steps=1, value_range=(-1.0, 1.0), seed=None,
                 **kwargs):
        self._set_num_classes(num_classes)
        super().__init__(generator, discriminator, d_steps=d_steps, value_range=value_range, seed=seed, **kwargs)

    @staticmethod
    def _network_shapes(generator, discriminator):
        latent_shape = _two_input_shapes(generator, "generator", "z")
        return int(latent_shape[-1]), _two_input_shapes(discriminator, "discriminator", "image")

    def _fake_from(self, z, labels, training):
        return self.generator([ops.convert_to_tensor(z), _tensor(labels)], training=training)

    def _score(self, x, labels, training):
        return self.discriminator([ops.convert_to_tensor(x), _tensor(labels)], training=training)

    def generate(self, n=None, labels=None, z=None, seed=None, batch_size=1000):
        """Samples G(z, y) of the requested labels: one class index per sample, or one for all n.

        z ~ N(0, I) is drawn with `seed` (or given): the same z under different labels keeps the
        style (slant, thickness) and changes the digit."""
        labels, z = self._labels_and_latent(n, labels, z, seed)
        return self._generate_in_batches(z, labels, batch_size)

    def discriminate(self, x, labels):
        """D's probability that each example is a real example of its label."""
        x = self.check_inputs(x)
        logits = self._score(x, self.check_labels(labels, len(x)), training=False)
        return to_numpy(ops.sigmoid(logits))[:, 0]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="keras_genai")
class ConditionalVAE(LabelConditioned, VAE):
    """A VAE whose encoder q(z | x, y) and decoder p(x | z, y) both see the class label.

    The decoder is told the digit, so z only has to carry what the label does not: the style.
    Its negative ELBO bounds -log p(x | y), a different quantity from the VAE's -log p(x):
    log p(x) = log p(x | y) + log p(y) - log p(y | x). For digits, whose label x nearly determines
    (p(y | x) ~ 1), -log p(x | y) ~ -log p(x) - log 10. In every case p(x) >= p(y) p(x | y), so the
    conditional bound plus log 10 (balanced labels) is an upper bound on -log p(x) too.
    """

    def __init__(self, encoder, decoder, num_classes, beta=1.0, likelihood="bernoulli", seed=None, **kwargs):
        self._set_num_classes(num_classes)
        super().__init__(encoder, decoder, beta=beta, likelihood=likelihood, seed=seed, **kwargs)

    @staticmethod
    def _input_shape(net, name):
        return _two_input_shapes(net, name, "image" if name == "encoder" else "z")

    def _encode(self, x, labels, training):
        return self.encoder([ops.convert_to_tensor(x), _tensor(labels)], training=training)

    def _decode(self, z, labels, training):
        return self.decoder([ops.convert_to_tensor(z), _tensor(labels)], training=training)

    def call(self, inputs, training=False):
        """Reconstruction of [images, labels] from the posterior mean."""
        x, labels = inputs
        z_mean, _ = self._encode(x, labels, training)
        return ops.sigmoid(self._decode(z_mean, labels, training))

    def encode(self, x, labels):
        """Posterior parameters (z_mean, z_log_var) of q(z | x, y) as NumPy arrays."""
        x = self.check_inputs(x)
        z_mean, z_log_var = self._encode(x, self.check_labels(labels, len(x)), training=False)
        return to_numpy(z_mean), to_numpy(z_log_var)

    def decode(self, z, labels):
        """Mean images of p(x | z, y)."""
        labels, z = self._labels_and_latent(None, labels, z, None)
        return to_numpy(ops.sigmoid(self._decode(z, labels, training=False)))

    def generate(self, n=None, labels=None, z=None, seed=None):
        """Mean images of the requested labels (one class per sample, or one for all n), z ~ N(0, I)."""
        labels, z = self._labels_and_latent(n, labels, z, seed)
        return to_numpy(ops.sigmoid(self._decode(z, labels, training=False)))

    def reconstruct(self, x, labels):
        x = self.check_inputs(x)
        return to_numpy(self([x, self.check_labels(labels, len(x))], training=False))

    def negative_elbo(self, x, labels, batch_size=500, seed=0):
        """Per-example negative ELBO of -log p(x | y) in nats (one posterior sample, drawn from `seed`)."""
        x = self.check_inputs(x)
        return self._negative_elbo(x, self.check_labels(labels, len(x)), batch_size, seed)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="keras_genai")
class CaptionGAN(ConditionalGAN):
    """A conditional GAN whose condition is a sentence: G(z, caption) and D(x, caption).

    Captions are strings, encoded by `tokenizer` to token ids (batch, length) with padding 0;
    each network reads them with its own GRU (nets.dcgan_generator / dcgan_discriminator with
    caption_vocab=tokenizer.vocab_size), trained jointly with it. Nothing tells the model which
    words name a digit or a stroke width: it learns that from which captions go with which images.
    The discriminator also sees real images with another image's caption, as fakes (GAN-CLS,
    `losses.matching_discriminator_loss`); d_acc counts all three kinds of pair.
    Train on (images, caption ids): fit(x, y=model.encode_captions(texts)).
    """

    def __init__(self, generator, discriminator, tokenizer, d_steps=1, value_range=(-1.0, 1.0), seed=None, **kwargs):
        self.tokenizer = tokenizers.deserialize(tokenizer)
        # num_classes bounds the condition's integer ids: here the caption tokens.
        super().__init__(generator, discriminator, self.tokenizer.vocab_size, d_steps=d_steps,
                         value_range=value_range, seed=seed, **kwargs)

    @staticmethod
    def _network_shapes(generator, discriminator):
        for net, first in ((generator, "z"), (discriminator, "image")):
            shapes = net.input_shape
            if not isinstance(shapes, list) or len(shapes) != 2 or tuple(shapes[1][1:]) != (None,):
                raise ValueError(f"the {net.name} must take two inputs [{first}, caption ids (batch, length)], got "
                                 f"input shape {shapes} (build it with keras_genai.nets and caption_vocab=...)")
        return int(generator.input_shape[0][-1]), tuple(discriminator.input_shape[0][1:])

    def _condition_help(self):
        return ("CaptionGAN trains on (images, caption ids): fit(x, y=model.encode_captions(texts)) or a dataset of "
                "(images, caption ids) pairs")

    @staticmethod
    def _split(data):
        return data[0], ops.cast(data[1], "int32")

    def check_labels(self, labels, n=None, name="captions"):
        ids = np.asarray(labels)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"{name} must be caption ids (n, length) from model.encode_captions(texts), "
                             f"got {ids.dtype} {ids.shape}")
        ids = check_ids(ids, self.tokenizer.vocab_size, name)
        if n is not None and len(ids) != n:
            raise ValueError(f"{name} has {len(ids)} captions for {n} examples")
        return ids

    def _discriminator_figures(self, real, fake, labels, training):
        real_logits = self._score(real, labels, training)
        fake_logits = self._score(fake, labels, training)
        # Each real image with its neighbour's caption (rolled by one row): a mismatch, so "fake".
        mismatched_logits = self._score(real, ops.roll(labels, 1, axis=0), training)
        per_example = losses.matching_discriminator_loss(real_logits, fake_logits, mismatched_logits,
                                                         1.0 - self.label_smoothing)
        correct = ops.concatenate([ops.cast(real_logits > 0, "float32"), ops.cast(fake_logits < 0, "float32"),
                                   ops.cast(mismatched_logits < 0, "float32")])
        return per_example, ops.mean(correct)

    def encode_captions(self, captions):
        """Caption strings -> padded token ids (n, longest caption); unknown characters are an error."""
        return self.tokenizer.encode_batch(list(captions), unknown="error")

    def generate(self, n=None, captions=None, z=None, seed=None, batch_size=1000):
        """Samples G(z, caption): one caption per sample, or one string for all n samples (or rows of z)."""
        if captions is None:
            raise ValueError("CaptionGAN.generate needs captions=: a list of strings, or one string for all n samples")
        z = None if z is None else self._latent(z=z)
        count = len(z) if z is not None else n
        if isinstance(captions, str):
            if count is None:
                raise ValueError("a single caption needs n (or z) to say how many samples to generate")
            captions = [captions] * _checks.check_positive_int(count, "n")
        ids = self.check_labels(self.encode_captions(captions), count)
        return self._generate_in_batches(self._latent(len(ids), None, seed) if z is None else z, ids, batch_size)

    def get_config(self):
        config = super().get_config()
        config.pop("num_classes")
        return {**config, "tokenizer": tokenizers.serialize(self.tokenizer)}
