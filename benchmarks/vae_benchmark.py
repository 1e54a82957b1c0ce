"""The package's default VAE against the official Keras VAE example, on the same digits.

    python benchmarks/vae_benchmark.py            # full run, writes benchmarks/vae_results.md
    python benchmarks/vae_benchmark.py --quick    # smoke test: 512 digits, 1-2 epochs, prints only

Both models train in this one process on the embedded split (4,000 training digits) and are
scored by the same function on the 1,000 held-out digits: the negative ELBO in nats per
image, -log p(x|z) (Bernoulli, summed over pixels) + KL(q(z|x) || N(0, I)) in closed form,
with one posterior sample per digit drawn from the same fixed noise.

The reference is a faithful port of keras-io examples/generative/vae.py (fchollet, 2020):
encoder Conv2D 32/64 3x3 stride 2 + Dense 16 -> 2-D latent; decoder Dense 7*7*64 -> two
Conv2DTranspose 64/32 stride 2 -> Conv2DTranspose 1 3x3 with a sigmoid; loss = summed BCE +
KL, Adam at its default learning rate, batch 128. It is trained once with constant-rate Adam
and scored after 30 epochs (the example's own setting) and again after the default VAE's
number of epochs; continuing a constant-rate run is the same as a fresh run of that length.
Training times are wall-clock seconds of fit() with the machine possibly shared, so only the
ratio between rows measured here means much.
"""

import argparse
import dataclasses
import datetime
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

from keras_genai import datasets, losses, recipes  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "vae_results.md"
KERAS_EXAMPLE_EPOCHS = 30


# --- The Keras example, as published (Keras 3 spelling, seeded sampling) ----------------

def keras_example_encoder(latent_dim=2):
    x = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(x)
    h = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(16, activation="relu")(h)
    return keras.Model(x, [layers.Dense(latent_dim, name="z_mean")(h), layers.Dense(latent_dim, name="z_log_var")(h)])


def keras_example_decoder(latent_dim=2):
    z = keras.Input((latent_dim,))
    h = layers.Dense(7 * 7 * 64, activation="relu")(z)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(h)
    h = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(h)
    return keras.Model(z, layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(h))


class KerasExampleVAE(keras.Model):
    """The example's train_step: mean over the batch of (BCE summed over pixels + KL)."""

    def __init__(self, encoder, decoder, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = [keras.metrics.Mean(name=n) for n in ("total_loss", "reconstruction_loss", "kl_loss")]

    @property
    def metrics(self):
        return self.trackers

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data)
            eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            reconstruction = self.decoder(z_mean + ops.exp(0.5 * z_log_var) * eps)
            reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        for tracker, value in zip(self.trackers, (total_loss, reconstruction_loss, kl_loss)):
            tracker.update_state(value)
        return {t.name: t.result() for t in self.trackers}


# --- One yardstick for both ---------------------------------------------------------------

def test_negative_elbo(encoder, pixel_probabilities, x, seed=0, batch_size=500):
    """Mean negative ELBO in nats per image, one posterior sample per image.

    encoder(x) -> (z_mean, z_log_var); pixel_probabilities(z) -> Bernoulli means in (0, 1).
    BCE summed over pixels (probabilities clipped to [1e-7, 1 - 1e-7], as Keras does) plus the
    closed-form KL to N(0, I); the noise comes from NumPy with a fixed seed, so both models
    see the same draws.
    """
    rng = np.random.default_rng(seed)
    values = []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        z_mean, z_log_var = (ops.convert_to_numpy(t) for t in encoder(batch, training=False))
        z = z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal(z_mean.shape).astype("float32")
        probabilities = pixel_probabilities(z)
        reconstruction = losses.binary_crossentropy(batch, probabilities)
        values.append(ops.convert_to_numpy(reconstruction + losses.gaussian_kl(z_mean, z_log_var)))
    return float(np.mean(np.concatenate(values)))


@dataclasses.dataclass
class Row:
    model: str
    params: int
    epochs: int
    seconds: float  # total wall-clock time of fit()
    epoch_seconds: float  # median wall-clock time of one epoch: robust to load from other jobs
    neg_elbo: float


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def timed_fit(model, *args, timer, **kwargs):
    start = time.perf_counter()
    model.fit(*args, callbacks=[timer], **kwargs)
    return time.perf_counter() - start


def run(quick):
    keras.utils.set_random_seed(0)
    data = datasets.load_mnist(source="embedded")
    x_train = datasets.scale_images(data.x_train, "vae")
    x_test = datasets.scale_images(data.x_test, "vae")
    recipe = recipes.vae()
    if quick:
        x_train, x_test = x_train[:512], x_test[:200]
        recipe = dataclasses.replace(recipe, epochs=2, train_size=len(x_train))
    example_epochs = 1 if quick else KERAS_EXAMPLE_EPOCHS
    rows = []

    keras.utils.set_random_seed(0)
    vae = recipe.build(seed=0)
    timer = EpochTimer()
    seconds = timed_fit(vae, recipe.dataset(data.x_train[: len(x_train)]), epochs=recipe.epochs, timer=timer, verbose=2)
    score = test_negative_elbo(vae.encoder, lambda z: ops.convert_to_numpy(ops.sigmoid(vae.decoder(z))), x_test)
    own = float(np.mean(vae.negative_elbo(x_test)))  # the package's own figure, for a cross-check
    print(f"default VAE: test negative ELBO {score:.2f} (VAE.negative_elbo: {own:.2f}) after {seconds:.0f} s")
    rows.append(Row(f"keras_genai default VAE (latent {recipe.latent_dim})", vae.count_params(), recipe.epochs,
                    seconds, float(np.median(timer.seconds)), score))

    keras.utils.set_random_seed(0)
    reference = KerasExampleVAE(keras_example_encoder(), keras_example_decoder(), seed=0)
    reference.compile(keras.optimizers.Adam())
    done, seconds, timer = 0, 0.0, EpochTimer()
    for epochs in sorted({example_epochs, recipe.epochs}):
        seconds += timed_fit(reference, x_train, epochs=epochs, initial_epoch=done, batch_size=128, timer=timer, verbose=2)
        done = epochs
        score = test_negative_elbo(reference.encoder, lambda z: ops.convert_to_numpy(reference.decoder(z)), x_test)
        print(f"Keras example VAE, {epochs} epochs: test negative ELBO {score:.2f} after {seconds:.0f} s")
        params = reference.encoder.count_params() + reference.decoder.count_params()
        rows.append(Row("Keras example VAE (latent 2)", params, epochs, seconds, float(np.median(timer.seconds)), score))
    return rows, data.source, len(x_train), len(x_test)


def markdown(rows, source, n_train, n_test, command):
    same = next(r for r in rows[1:] if r.epochs == rows[0].epochs)
    lines = [
        "# VAE benchmark: keras_genai default VAE vs the official Keras VAE example",
        "",
        f"Written by `{command}` on {datetime.date.today().isoformat()} "
        f"({platform.machine()}, {os.cpu_count()} CPU cores, Keras {keras.__version__}, TensorFlow {tf.__version__}).",
        f"Data: {source}, {n_train:,} training and {n_test:,} held-out digits, pixels in [0, 1].",
        "",
        "Test negative ELBO: nats per held-out image, Bernoulli reconstruction (BCE summed over pixels) "
        "+ closed-form KL, one posterior sample, the same function and noise for both models (lower is better). "
        "Ratios are against the Keras example trained for the same number of epochs; the time ratio "
        "compares median seconds per epoch, which a burst of load from other jobs moves less than the total.",
        "",
        "| model | params | epochs | train time (s) | median s/epoch | test neg-ELBO (nats) | epoch-time ratio | neg-ELBO ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.params:,} | {r.epochs} | {r.seconds:.0f} | {r.epoch_seconds:.1f} | {r.neg_elbo:.2f} "
            f"| {r.epoch_seconds / same.epoch_seconds:.2f} | {r.neg_elbo / same.neg_elbo:.3f} |"
        )
    lines += [
        "",
        "Train times are wall-clock seconds of `fit()` (the first epoch includes tracing the training step) "
        "on a machine that other jobs may share; compare the rows of one run, not runs on different days.",
        "",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run on 512 digits; prints the table, writes nothing")
    args = parser.parse_args()
    rows, source, n_train, n_test = run(args.quick)
    command = "python benchmarks/vae_benchmark.py" + (" --quick" if args.quick else "")
    table = markdown(rows, source, n_train, n_test, command)
    print(table)
    if not args.quick:
        RESULTS.write_text(table)
        print(f"Wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
