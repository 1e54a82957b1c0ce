"""The package's default DCGAN against the TensorFlow DCGAN tutorial, on this machine, in one process.

    python benchmarks/dcgan_benchmark.py            # full run (~30 min), writes benchmarks/dcgan_results.md
    python benchmarks/dcgan_benchmark.py --quick    # smoke test (seconds of training), writes build/

1. Speed: training images per second of both models on the same data (the 4,000 embedded
   training digits in [-1, 1]) at the same batch size, the tutorial's 256 and the package's
   default (recipes.dcgan().batch_size). Runs are interleaved in rounds after a warm-up, so
   load from other processes hits every model alike; the ratio is computed per round.
   The package model is also timed with XLA (jit_compile=True) to justify the default.
2. Quality: each model trains for the same wall-clock minutes (its own batch size and
   settings), then the digit classifier (trained on real digits) scores 1,000 samples:
   the share labelled with confidence >= 0.9 and how many of the 10 digits it finds.

The tutorial model is https://www.tensorflow.org/tutorials/generative/dcgan as written there:
its two networks, BCE from logits, Adam(1e-4) for each, noise_dim 100, batch 256, and its
train_step (one tf.function, two GradientTapes, simultaneous updates).
"""

import argparse
import datetime
import os
import pathlib
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from keras_genai import GAN, callbacks, datasets, evaluation, nets, recipes  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "dcgan_results.md"
TUTORIAL_BATCH, NOISE_DIM, BUFFER_SIZE = 256, 100, 60000


# --- The TensorFlow tutorial's DCGAN ----------------------------------------------------------

def make_generator_model():
    return keras.Sequential([
        keras.Input((NOISE_DIM,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ], name="tutorial_generator")


def make_discriminator_model():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ], name="tutorial_discriminator")


class TutorialDCGAN(keras.Model):
    """The tutorial's networks, losses, optimizers and train_step, wrapped so that fit() and
    the scoreboard can drive it; `tutorial_step` is the tutorial's function verbatim in spirit."""

    def __init__(self, batch_size=TUTORIAL_BATCH, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = make_generator_model(), make_discriminator_model()
        self.generator_optimizer = keras.optimizers.Adam(1e-4)
        self.discriminator_optimizer = keras.optimizers.Adam(1e-4)
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.batch_size, self.latent_dim = batch_size, NOISE_DIM
        self.gen_loss_tracker = keras.metrics.Mean(name="gen_loss")
        self.disc_loss_tracker = keras.metrics.Mean(name="disc_loss")

    @property
    def metrics(self):
        return [self.gen_loss_tracker, self.disc_loss_tracker]

    def tutorial_step(self, images):
        noise = tf.random.normal([self.batch_size, NOISE_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)
            real_output = self.discriminator(images, training=True)
            fake_output = self.discriminator(generated_images, training=True)
            gen_loss = self.cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = (self.cross_entropy(tf.ones_like(real_output), real_output)
                         + self.cross_entropy(tf.zeros_like(fake_output), fake_output))
        gradients_of_generator = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients_of_generator, self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(gradients_of_discriminator, self.discriminator.trainable_variables))
        return gen_loss, disc_loss

    def train_step(self, images):
        gen_loss, disc_loss = self.tutorial_step(images)
        self.gen_loss_tracker.update_state(gen_loss)
        self.disc_loss_tracker.update_state(disc_loss)
        return {m.name: m.result() for m in self.metrics}

    def generate(self, n=None, z=None, seed=None):
        if z is None:
            z = np.random.default_rng(seed).standard_normal((n, NOISE_DIM)).astype("float32")
        return self.generator.predict(z, batch_size=1000, verbose=0)


def tutorial_dataset(images, batch_size=TUTORIAL_BATCH, drop_remainder=False):
    """The tutorial's pipeline: uint8 digits -> [-1, 1] -> shuffle(60000) -> batch."""
    x = datasets.scale_images(images, "gan")
    return tf.data.Dataset.from_tensor_slices(x).shuffle(BUFFER_SIZE).batch(batch_size, drop_remainder=drop_remainder)


def tutorial_dcgan(batch_size=TUTORIAL_BATCH):
    """(compiled model, dataset(uint8 images) -> pipeline, settings text), for the scoreboard too."""
    model = TutorialDCGAN(batch_size)
    model.compile()
    text = f"TF tutorial: batch {batch_size}, Adam(1e-4) x 2, noise 100"
    return model, lambda images: tutorial_dataset(images, batch_size), text


def package_dcgan(jit_compile="auto"):
    """The package's default DCGAN: default builders, GAN and compile() defaults."""
    model = GAN(nets.dcgan_generator(), nets.dcgan_discriminator(), seed=0)
    model.compile(jit_compile=jit_compile)
    return model


# --- 1. Speed ---------------------------------------------------------------------------------

class Runner:
    """Times `steps` training steps of one model on an endless pipeline of the same digits."""

    def __init__(self, name, batch_size, images, kind, jit_compile="auto"):
        self.name, self.batch_size, self.kind = name, batch_size, kind
        if kind == "tutorial":  # the tutorial's own loop: a Python for over the dataset
            self.model = TutorialDCGAN(batch_size)
            self.step = tf.function(self.model.tutorial_step)
            self.iterator = iter(tutorial_dataset(images, batch_size, drop_remainder=True).repeat())
        else:
            self.model = package_dcgan(jit_compile)
            self.dataset = datasets.image_dataset(datasets.scale_images(images, "gan"), batch_size).repeat()
        self.rates = []

    def run(self, steps):
        if self.kind == "tutorial":
            for _ in range(steps):
                out = self.step(next(self.iterator))
            float(out[0])  # wait for the last step
        else:
            self.model.fit(self.dataset, steps_per_epoch=steps, epochs=1, verbose=0)

    def timed(self, steps):
        start = time.perf_counter()
        self.run(steps)
        rate = steps * self.batch_size / (time.perf_counter() - start)
        self.rates.append(rate)
        return rate


def measure_speed(images, batch_sizes, rounds, steps, xla_rounds, log):
    groups = {}
    for batch_size in batch_sizes:
        runners = [Runner(f"TF tutorial, batch {batch_size}", batch_size, images, "tutorial"),
                   Runner(f"keras_genai default, batch {batch_size}", batch_size, images, "package")]
        if batch_size == TUTORIAL_BATCH:
            runners.append(Runner(f"keras_genai default with XLA, batch {batch_size}", batch_size, images,
                                  "package", jit_compile=True))
        for runner in runners:  # warm-up: tracing, compilation, first allocations
            runner.run(3)
            runner.run(3)
        groups[batch_size] = runners
    for r in range(rounds):
        for batch_size, runners in groups.items():
            timed = [x for x in runners if r < xla_rounds or "XLA" not in x.name]
            for runner in timed:
                runner.timed(steps)
            log(f"round {r + 1}/{rounds}, batch {batch_size}: " + ", ".join(f"{x.name} {x.rates[-1]:.0f}" for x in timed))
    rows = []
    for batch_size, runners in groups.items():
        tutorial = np.array(runners[0].rates)
        for runner in runners:
            rates = np.array(runner.rates)
            ratios = rates / tutorial[: len(rates)]
            rows.append((runner.name, batch_size, len(rates) * steps * batch_size, np.median(rates), np.median(ratios),
                         ratios.min(), ratios.max()))
    return rows


# --- 2. Quality at equal training time --------------------------------------------------------

def train_for(model, dataset, seconds):
    keras.utils.set_random_seed(0)
    limit = callbacks.TimeLimit(seconds)
    start = time.perf_counter()
    model.fit(dataset, epochs=1_000_000, callbacks=[limit], verbose=0)
    return time.perf_counter() - start, limit.stopped_after


def measure_quality(data, classifier, seconds, n_samples, log):
    recipe = recipes.dcgan()
    rows = []
    candidates = [
        ("keras_genai default", lambda: (package_dcgan(), recipe.dataset(data.x_train), recipe.batch_size)),
        ("TF tutorial", lambda: (*tutorial_dcgan()[:2], TUTORIAL_BATCH)),
    ]
    for name, make in candidates:
        keras.utils.set_random_seed(0)
        model, dataset, batch_size = make()
        if callable(dataset):
            dataset = dataset(data.x_train)
        wall, steps = train_for(model, dataset, seconds)
        report = evaluation.confidence_report(classifier, model.generate(n_samples, seed=2), value_range=(-1, 1))
        log(f"{name}: {steps} steps of batch {batch_size} in {wall:.0f} s; {report}")
        rows.append((name, batch_size, steps, wall, report))
    return rows


# --- The results file -------------------------------------------------------------------------

def write_results(path, command, speed, quality, seconds, n_samples, classifier, load, elapsed):
    lines = [
        "# DCGAN benchmark: keras_genai default vs the TensorFlow DCGAN tutorial",
        "",
        f"Written by `benchmarks/dcgan_benchmark.py` on {datetime.date.today().isoformat()} "
        f"({platform.machine()}, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {keras.__version__}).",
        f"Command: `{command}`; total run time {elapsed / 60:.0f} min; load average (1 min) "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end (other jobs shared the CPU, so absolute "
        "rates are low and noisy; the ratios come from interleaved rounds in one process).",
        "",
        "Data: the 4,000 embedded training digits (`datasets.load_mnist(source=\"embedded\")`), scaled to [-1, 1].",
        "The package's default DCGAN: `GAN(nets.dcgan_generator(), nets.dcgan_discriminator())`, `compile()` "
        f"defaults (two Adam(2e-4, beta_1=0.5), non-saturating loss, graph mode), batch {recipes.dcgan().batch_size} "
        "(`recipes.dcgan().batch_size`).",
        "",
        "## Training speed at the same batch size",
        "",
        "Images per second (median over rounds) and the ratio to the tutorial measured in the same round.",
        "",
        "| model | batch | images timed | images/s | ratio to tutorial (median) | min - max |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, batch, n, rate, ratio, low, high in speed:
        lines.append(f"| {name} | {batch} | {n:,} | {rate:.0f} | {ratio:.2f} | {low:.2f} - {high:.2f} |")
    lines += [
        "",
        f"## Quality after {seconds:g} seconds of training (wall clock)",
        "",
        f"Digit classifier: {classifier.test_accuracy:.3f} test accuracy on real held-out digits. "
        "Each model trains alone for the same time (its first step includes tracing the graph); "
        f"{n_samples:,} samples from a fixed seed are scored.",
        "",
        "| model | batch | steps | training time | confident (p >= 0.9) | digits found | confident samples per digit |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, batch, steps, wall, report in quality:
        lines.append(f"| {name} | {batch} | {steps} | {wall:.0f} s | {report.confident_fraction:.1%} | "
                     f"{report.classes_found}/10 | {report.class_counts.tolist()} |")
    path.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke test: few steps, seconds of training")
    parser.add_argument("--minutes", type=float, default=5.0, help="training time of each model in the quality run")
    parser.add_argument("--output", help=f"results file (default {RESULTS.name}; build/ for --quick)")
    args = parser.parse_args()
    if not args.minutes > 0:
        parser.error("--minutes must be positive")
    output = pathlib.Path(args.output or (HERE.parent / "build" / "dcgan_results_quick.md" if args.quick else RESULTS))
    output.parent.mkdir(parents=True, exist_ok=True)
    rounds, steps, xla_rounds, n_samples = (1, 2, 1, 100) if args.quick else (6, 50, 2, 1000)
    seconds = 5.0 if args.quick else 60 * args.minutes

    def log(text):
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    data = datasets.load_mnist(source="embedded")
    x_train = data.x_train[:512] if args.quick else data.x_train
    batch_sizes = sorted({TUTORIAL_BATCH, recipes.dcgan().batch_size}, reverse=True)
    speed = measure_speed(x_train, batch_sizes, rounds, steps, xla_rounds, log)
    classifier = evaluation.digit_classifier(data)
    quality = measure_quality(data, classifier, seconds, n_samples, log)
    command = "python benchmarks/dcgan_benchmark.py" + (" --quick" if args.quick else "") + \
        (f" --minutes {args.minutes:g}" if args.minutes != 5.0 else "")
    write_results(output, command, speed, quality, seconds, n_samples, classifier,
                  (load_start, os.getloadavg()[0]), time.perf_counter() - start)
    log(f"wrote {output}")
    print(output.read_text())


if __name__ == "__main__":
    main()
