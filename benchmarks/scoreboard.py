"""The scoreboard: every image model of keras_genai trained at its notebook's full-run settings
(keras_genai.recipes) and measured with the same yardsticks, on this machine, in one process.

    python benchmarks/scoreboard.py            # full run, writes benchmarks/scoreboard_results.md
    python benchmarks/scoreboard.py --quick    # smoke test: tiny data, seconds of training
    python benchmarks/scoreboard.py --only-diffusion   # the ceiling and the diffusion rows alone

Each row scores samples against the training digits with keras_genai.evaluation.image_scores
(FID, KID with its standard error, precision, recall, confident fraction and digits found,
share of near-copies of training digits); the VAE adds its likelihood figures on the test
digits. Held-out real digits, scored the same way, are the ceiling. The default DCGAN and the
TensorFlow-tutorial DCGAN (benchmarks/dcgan_benchmark.py) then race for the same budget of
*training* time (evaluation time is kept off the clock), with the FID of one fixed latent
batch recorded every 30 s: the time-to-quality curves.
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

import keras_genai as kg  # noqa: E402
from keras_genai import datasets, evaluation, recipes  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "scoreboard_results.md"
DIFFUSION_RESULTS = HERE / "scoreboard_diffusion_results.md"  # --only-diffusion: the new rows, without re-training the rest
FIVE_MINUTES = 300  # seconds: the default DCGAN should reach its best FID within them
BUDGET = 480  # seconds of training in the time-to-quality race: long enough to see whether FID still falls after 5 min


@dataclasses.dataclass(frozen=True)
class Settings:
    n_train: int | None  # training digits used (None: all)
    epochs: int | None  # None: each recipe's full-run epochs
    n_samples: int  # samples scored per model (and held-out digits in the ceiling row)
    n_track: int  # fixed latent batch of the time-to-quality curve
    eval_every: float  # seconds of training time between two points of the curve
    budget: float  # seconds of training time of each DCGAN of the time-to-quality race
    iwae_k: int
    n_likelihood: int | None  # test digits for the likelihood figures (None: all)
    diffusion_budget: float  # seconds of training of the diffusion model (the budget: 10 minutes)
    diffusion_steps: int  # sampling steps of its samples (with the recipe's sampler)


FULL = Settings(n_train=None, epochs=None, n_samples=1000, n_track=1000, eval_every=30.0, budget=BUDGET, iwae_k=100, n_likelihood=None,
                diffusion_budget=600.0, diffusion_steps=25)
QUICK = Settings(n_train=256, epochs=1, n_samples=100, n_track=100, eval_every=1.0, budget=3.0, iwae_k=5, n_likelihood=50,
                 diffusion_budget=3.0, diffusion_steps=3)


class TimeToQuality(keras.callbacks.Callback):
    """Keeps a training clock that excludes its own evaluations; optionally stops at a budget.

    evaluate(model) -> float is called at the first batch end after each multiple of `every`
    seconds of training time (at most once per multiple) and at the end of training; `history`
    holds (training seconds, value) pairs, `seconds` the final clock and `steps` the batches. at_epoch=(n, fn)
    calls fn(model, seconds) at the end of epoch n, also off the clock; the budget does not stop
    training before then.
    """

    def __init__(self, evaluate=None, every=30.0, budget=None, at_epoch=None):
        super().__init__()
        if every <= 0 or (budget is not None and budget <= 0):
            raise ValueError(f"every and budget must be positive seconds, got every={every}, budget={budget}")
        self.evaluate, self.every, self.budget, self.at_epoch = evaluate, float(every), budget, at_epoch
        self.history, self.seconds = [], 0.0

    def _tick(self):
        now = time.perf_counter()
        self.seconds += now - self._last
        self._last = now

    def _record(self):
        if self.evaluate is not None:
            self.history.append((self.seconds, float(self.evaluate(self.model))))
        self._last = time.perf_counter()  # the evaluation is not training time

    def on_train_begin(self, logs=None):
        self.history, self.seconds, self.steps, self._next = [], 0.0, 0, self.every
        self._at_epoch_pending = self.at_epoch is not None
        self._last = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._tick()
        self.steps += 1
        if self.budget is not None and self.seconds >= self.budget and not self._at_epoch_pending:
            self.model.stop_training = True
        elif self.seconds >= self._next:
            self._record()
            self._next = (self.seconds // self.every + 1) * self.every  # a slow batch skips thresholds

    def on_epoch_end(self, epoch, logs=None):
        if self.at_epoch is not None and epoch + 1 == self.at_epoch[0]:
            self._tick()
            self.at_epoch[1](self.model, self.seconds)
            self._at_epoch_pending = False
            self._last = time.perf_counter()

    def on_train_end(self, logs=None):
        self._tick()
        self._record()


def tutorial_dcgan():
    """The TensorFlow-tutorial DCGAN, from its builder in benchmarks/dcgan_benchmark.py."""
    sys.path.insert(0, str(HERE))
    try:
        import dcgan_benchmark
    finally:
        sys.path.remove(str(HERE))
    return dcgan_benchmark.tutorial_dcgan()


def is_conditional(model):
    return isinstance(model, (kg.ConditionalGAN, kg.ConditionalVAE))


def vae_likelihood(vae, x_test, k, seed=0, labels=None):
    """Test negative ELBO and IWAE bound (nats per image) and the IWAE bound in bits/dim; with labels
    (a ConditionalVAE) the bounds are on -log p(x | y)."""
    given = {} if labels is None else {"labels": labels}
    neg_elbo = float(np.mean(vae.negative_elbo(x_test, seed=seed, **given)))
    iwae = float(np.mean(evaluation.iwae_bound(vae, x_test, k=k, seed=seed, **given)))
    return {"neg_elbo": neg_elbo, "iwae": iwae, "bits_per_dim": evaluation.bits_per_dim(iwae, int(np.prod(x_test.shape[1:])))}


class Scoreboard:
    def __init__(self, settings, log=print):
        self.settings, self.log = settings, log
        self.data = datasets.load_mnist(verbose=False)
        self.classifier = evaluation.digit_classifier(self.data, verbose=False)
        self.x_train = self.data.x_train[: settings.n_train]
        self.y_train = self.data.y_train[: settings.n_train]
        self.real_train = datasets.scale_images(self.x_train, "ae")
        self.real_test = datasets.scale_images(self.data.x_test, "ae")
        self.train_features = self.classifier.features(self.real_train)
        self.rows, self.curves = {}, {}

    def score(self, name, samples, family, seconds=None, recipe=None, labels=None, **extra):
        """Score samples in the pixel range of `family` ("ae"/"vae": [0, 1], "gan": [-1, 1]); labels: the
        classes a conditional model was asked for, for its label accuracy."""
        samples = datasets.unscale_images(samples, family)  # the real digits are in [0, 1]
        scores = evaluation.image_scores(self.classifier, samples, self.real_test, self.real_train,
                                         train_features=self.train_features)
        if labels is not None:
            accuracy = evaluation.label_accuracy(self.classifier, samples, labels)
            scores.update(label_accuracy=accuracy.overall, worst_label_accuracy=accuracy.worst)
        self.rows[name] = {
            **scores, **extra, "training settings": recipe or "–",
            "training time": "–" if seconds is None else f"{seconds:.0f} s",
        }
        self.log(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))

    def fid_of(self, z, value_range):
        """evaluate(model) for TimeToQuality: FID of G(z) against the training digits."""
        def evaluate(model):
            features = self.classifier.features(model.generate(z=z), value_range)
            return evaluation.frechet_distance(features, self.train_features)
        return evaluate

    def train(self, name, model, dataset, epochs, clock):
        keras.utils.set_random_seed(0)
        self.log(f"Training {name} ...")
        model.fit(dataset, epochs=epochs, callbacks=[clock], verbose=0, shuffle=False)  # the pipeline shuffles
        self.log(f"  {clock.seconds:.0f} s of training")
        return clock.seconds

    def run_recipe(self, name, recipe, race=None):
        """Train and score one recipe. race: a name under which training then goes on, for the
        budget of training time, as one runner of the time-to-quality race."""
        s = self.settings
        epochs = s.epochs or recipe.epochs
        recipe = dataclasses.replace(recipe, epochs=epochs)
        if "train_size" in {field.name for field in dataclasses.fields(recipe)}:  # a schedule laid out over the data
            recipe = dataclasses.replace(recipe, train_size=len(self.x_train))
        keras.utils.set_random_seed(0)
        model = recipe.build(seed=0)
        settings = (f"{epochs} epoch{'s' * (epochs != 1)}, batch {recipe.batch_size}, "
                    f"learning rate {recipe.learning_rate:g}, latent {recipe.latent_dim}")
        settings += "".join(f", {field} {getattr(recipe, field)}" for field in ("n_critic", "conditioning")
                            if hasattr(recipe, field))
        conditional = is_conditional(model)
        labels = np.arange(s.n_samples) % 10 if conditional else None  # 100 samples of each digit

        def score_recipe(model, seconds):
            extra = {}
            if isinstance(model, kg.VAE):
                test_labels = self.data.y_test[: s.n_likelihood] if conditional else None
                extra = vae_likelihood(model, self.real_test[: s.n_likelihood], s.iwae_k, labels=test_labels)
            samples = (model.generate(labels=labels, seed=2) if conditional else model.generate(s.n_samples, seed=2))
            self.score(name, samples, recipe.family, seconds, settings, labels=labels, **extra)

        dataset = recipe.dataset(self.x_train, self.y_train if conditional else None)
        if race is None:
            score_recipe(model, self.train(name, model, dataset, epochs, TimeToQuality()))
        else:
            self.race(race, model, dataset, "the row above, trained on", (epochs, score_recipe))

    def race(self, name, model, dataset, settings_text, at_epoch=None):
        """Train a GAN for the budget of training time, recording its FID curve; score it."""
        s = self.settings
        z = np.random.default_rng(1).standard_normal((s.n_track, model.latent_dim)).astype("float32")
        clock = TimeToQuality(self.fid_of(z, (-1.0, 1.0)), s.eval_every, budget=s.budget, at_epoch=at_epoch)
        self.train(name, model, dataset, 1_000_000, clock)
        self.curves[name] = clock.history
        self.score(name, model.generate(s.n_samples, seed=2), "gan", clock.seconds, f"{settings_text} ({clock.steps:,} steps)")

    def run_diffusion(self):
        """The diffusion model of notebook 18, trained for the diffusion budget; one network scored three ways:
        unconditional (guidance 0), conditional (guidance 1) and guided (guidance 2)."""
        s = self.settings
        recipe = dataclasses.replace(recipes.diffusion(), seconds=s.diffusion_budget)
        keras.utils.set_random_seed(0)
        model = recipe.build(seed=0)
        clock = TimeToQuality(every=recipe.seconds, budget=recipe.seconds)
        seconds = self.train("diffusion (notebook 18)", model, recipe.dataset(self.x_train, self.y_train),
                             recipe.epochs, clock)
        labels = np.arange(s.n_samples) % 10
        settings = (f"U-Net widths {recipe.widths}, {clock.steps:,} steps of batch {recipe.batch_size}, learning rate "
                    f"{recipe.learning_rate:g}, EMA {recipe.ema_decay}, {s.diffusion_steps} {recipe.sampler.upper()} steps")
        for guidance, kind in ((0.0, "unconditional (guidance 0)"), (1.0, "conditional (guidance 1)"),
                               (2.0, "guided (guidance 2)")):
            start = time.perf_counter()
            samples = model.generate(labels=labels, steps=s.diffusion_steps, sampler=recipe.sampler,
                                     guidance=guidance, seed=2)
            sampling = time.perf_counter() - start
            self.score(f"diffusion, {kind}", samples, recipe.family, seconds,
                       f"{settings}; sampling {sampling:.0f} s", labels=None if guidance == 0 else labels)

    def run_ceiling(self):
        held_out = self.real_test[: self.settings.n_samples]
        self.score(evaluation.CEILING, held_out, "ae", recipe=f"{len(held_out)} test digits")

    def run_only_diffusion(self):
        load_start, start = os.getloadavg()[0], time.perf_counter()
        self.run_ceiling()
        self.run_diffusion()
        self.total_seconds = time.perf_counter() - start
        self.load = (load_start, os.getloadavg()[0])

    def run(self):
        load_start = os.getloadavg()[0]
        start = time.perf_counter()
        self.run_ceiling()
        self.run_recipe("VAE (notebook 02)", recipes.vae())
        self.run_recipe("MLP GAN (notebook 03)", recipes.mlp_gan())
        budget = f"{self.settings.budget:g} s"
        # The default DCGAN is scored at its recipe's epochs, then trains on for the race.
        self.run_recipe("WGAN-GP (notebook 05)", recipes.wgan_gp())
        self.run_recipe("conditional GAN, projection (notebook 06)", recipes.conditional_gan())
        self.run_recipe("conditional GAN, concat discriminator", dataclasses.replace(recipes.conditional_gan(),
                                                                                      conditioning="concat"))
        self.run_recipe("conditional VAE (notebook 06)", recipes.conditional_vae())
        # With 2 latent dimensions the label must carry the digit's identity: samples obey it more often,
        # at the price of a much weaker bound.
        self.run_recipe("conditional VAE, latent 2", dataclasses.replace(recipes.conditional_vae(), latent_dim=2))
        self.run_recipe("default DCGAN (notebook 04)", recipes.dcgan(), race=f"default DCGAN, {budget} race")
        model, dataset, settings_text = tutorial_dcgan()
        self.race(f"TensorFlow-tutorial DCGAN, {budget} race", model, dataset(self.x_train), settings_text)
        self.run_diffusion()
        self.total_seconds = time.perf_counter() - start
        self.load = (load_start, os.getloadavg()[0])


# --- The results file ----------------------------------------------------------------------

def results_table(rows):
    """One Markdown row per model: its training settings and time, then its scores."""
    return evaluation.score_table(rows, markdown=True, leading=("training settings", "training time"), name="model")


def curve_table(curves, every):
    """FID against training time, one column per model. A curve is TimeToQuality.history: at
    most one point per multiple of `every` seconds (the row it belongs to), then the final point
    (the row "end")."""
    by_threshold = [{int(t // every) * every: (t, v) for t, v in c[:-1]} for c in curves.values()]
    names = list(curves)
    lines = ["| training time | " + " | ".join(f"{n}: FID" for n in names) + " |", "|---|" + "---|" * len(names)]

    def cell(point):
        return "–" if point is None else f"{point[1]:.2f} (at {point[0]:.0f} s)"

    for threshold in sorted(set().union(*by_threshold)):
        lines.append(f"| {threshold:g} s | " + " | ".join(cell(points.get(threshold)) for points in by_threshold) + " |")
    lines.append("| end | " + " | ".join(cell(c[-1]) for c in curves.values()) + " |")
    return "\n".join(lines)


def best_point(curve):
    """(training seconds, FID) of the lowest FID, the first time it was reached."""
    return min(curve, key=lambda point: point[1])


def curve_figure(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, curve in curves.items():
        seconds, fids = zip(*curve)
        ax.plot(seconds, fids, marker="o", label=name)
    ax.set_yscale("log"), ax.set_xlabel("training time (s), evaluation excluded"), ax.set_ylabel("FID (lower is better)")
    ax.set_title("Time to quality"), ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def time_to_quality(curves, settings, path):
    """The Markdown lines of the race: curve table, what it shows, and the figure."""
    (name_a, curve_a), (name_b, curve_b) = curves.items()
    best_seconds, best_fid = best_point(curve_a)
    # A point belongs to the 30 s mark it was recorded at (the 300 s point lands a few ms after 300 s).
    early = [p for p in curve_a if p[0] // settings.eval_every * settings.eval_every <= FIVE_MINUTES]
    early_seconds, early_fid = best_point(early or curve_a[:1])
    figure = path.with_name(path.stem + "_time_to_quality.png")
    curve_figure(curves, figure)
    return [
        f"Both DCGANs train for the same {settings.budget:g} s of training time (the evaluations are not "
        f"counted); every {settings.eval_every:g} s, the FID of one fixed batch of {settings.n_track:,} latent "
        "vectors against the training digits. The rows are the last two of the table above.",
        "",
        curve_table(curves, settings.eval_every),
        "",
        f"- {name_a}: best FID {best_fid:.2f}, first reached after {best_seconds:.0f} s of training; the best "
        f"up to the {FIVE_MINUTES // 60}-minute mark is {early_fid:.2f} (at {early_seconds:.0f} s), "
        f"{early_fid / best_fid:.2f}× the best of the whole run.",
        f"- {name_b}: best FID {best_point(curve_b)[1]:.2f}; at the end of the budget its FID is "
        f"{curve_b[-1][1]:.2f}, {curve_b[-1][1] / curve_a[-1][1]:.1f}× the default DCGAN's {curve_a[-1][1]:.2f}.",
        "",
        f"![FID against training time]({figure.name})",
    ]


def write_results(board, path, quick, only_diffusion=False):
    s, rows, curves = board.settings, board.rows, board.curves
    flags = " --quick" * quick + " --only-diffusion" * only_diffusion
    lines = [
        "# Scoreboard: the image models of keras_genai, measured the same way",
        "",
        f"Written by `python benchmarks/scoreboard.py{flags}` on "
        f"{datetime.date.today().isoformat()} in {board.total_seconds / 60:.1f} minutes: "
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), TensorFlow "
        f"{__import__('tensorflow').__version__}, Keras {keras.__version__}. Load average at the start and "
        f"end: {board.load[0]:.1f} / {board.load[1]:.1f}"
        + (" (above the core count: other jobs shared the machine and the times are inflated)."
           if max(board.load) > os.cpu_count() else " (at most the core count: the machine was not shared)."),
        "",
        f"Data: {board.data.describe()}; {len(board.x_train):,} training digits used. Every model is built and "
        "trained by `keras_genai.recipes` with the full-run settings of its notebook. Scores: "
        f"`evaluation.image_scores` of {s.n_samples:,} samples (fixed seed) against the training digits, on "
        f"the features of the digit classifier (test accuracy {board.classifier.test_accuracy:.3f}).",
        "",
        results_table(rows),
        "",
        "- **FID, KID**: distance between the classifier-feature distributions of the samples and the training "
        "digits (lower is better; the held-out row is what real digits score). FID is biased upwards for small "
        "samples, so compare only rows with the same number of samples. KID's ± is the standard error over "
        "random subsets of *these* samples, not the scatter between fresh samples (notebook 07 compares the two).",
        "- **KID** is printed as computed (unbiased MMD² with the cubic kernel), not ×10³ as many papers print "
        "it, and on the classifier's 128 features rather than Inception-v3's 2,048: compare it only within "
        "this table.",
        "- **precision / recall**: share of samples inside the manifold of real digits (quality) and of real "
        "digits inside the manifold of samples (diversity), k = 3 nearest neighbours; the real manifold is "
        "every training digit (an equal-size subset let uniform noise score precision 0.57-1.0). "
        "**density / coverage** (Naeem et al. 2020): how many real neighbourhoods hold each sample, divided "
        "by k (about 1 for real digits, near 0 off the manifold; robust to real outliers), and the share of "
        "real neighbourhoods that hold at least one sample (diversity, measured from the real side). "
        "`evaluation.manifold_scores` computes all four.",
        "- **confident / digits found**: share of samples the classifier labels with probability ≥ 0.9, and how "
        "many of the 10 digits appear among them. **copies**: share of samples closer (in pixels) to a "
        "training digit than 99% of held-out digits are (memorisation).",
        f"- **likelihoods** (VAEs only, {len(board.real_test[: s.n_likelihood]):,} test digits): negative ELBO and "
        f"importance-weighted bound with k = {s.iwae_k}, upper bounds on −log p(x) in nats per image, and the "
        "bound in bits per dimension. The decoder is Bernoulli on grey pixels, so these are cross-entropies, "
        "comparable only between models with the same likelihood and data. The conditional VAEs' bounds are on "
        "−log p(x | y) = −log p(x) + log p(y) − log p(y | x): about log 10 = 2.3 nats below −log p(x) for digits, "
        "whose label the image nearly determines; adding log 10 to them gives an upper bound on −log p(x).",
        "- **label acc. / worst label** (conditional models): share of samples the classifier assigns to the "
        "label they were generated for, over 100 samples of each digit, and the lowest per-digit share. Real "
        f"held-out digits score the classifier's test accuracy, {board.classifier.test_accuracy:.1%}.",
        f"- **diffusion** (notebook 18): one `ConditionalDiffusionModel` trained for {s.diffusion_budget:g} s of "
        f"wall-clock time (`recipes.diffusion()` with that budget), sampled with {recipes.diffusion().sampler.upper()} "
        f"({s.diffusion_steps} steps) three ways: guidance 0 "
        "(unconditional, so no label accuracy), 1 (conditional) and 2 (guided). Its training time is training "
        "only; the sampling time of the 1,000 samples is in its settings, since every sample costs one network "
        "pass per step (two with guidance other than 1), where a GAN's costs one.",
    ]
    if len(curves) == 2:
        lines += ["", "## Time to quality: the two DCGANs", "", *time_to_quality(curves, s, path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny data and training, results in build/")
    parser.add_argument("--output", type=pathlib.Path, help=f"results file (default {RESULTS.name}, or build/ with --quick)")
    parser.add_argument("--only-diffusion", action="store_true",
                        help=f"the ceiling and the diffusion rows only, written to {DIFFUSION_RESULTS.name} by default")
    args = parser.parse_args(argv)
    default = DIFFUSION_RESULTS if args.only_diffusion else RESULTS
    output = args.output or (HERE.parent / "build" / f"{default.stem}_quick.md" if args.quick else default)
    board = Scoreboard(QUICK if args.quick else FULL)
    board.run_only_diffusion() if args.only_diffusion else board.run()
    print(f"Wrote {write_results(board, output, args.quick, args.only_diffusion)} ({board.total_seconds:.0f} s)")
    return board


if __name__ == "__main__":
    main()
