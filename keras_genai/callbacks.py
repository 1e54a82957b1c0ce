"""Callbacks that show what a generative model produces while it trains, and how far it is."""

import os
import sys
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from keras_genai import _checks, plotting


class ImageGridMonitor(keras.callbacks.Callback):
    """Draws `model.generate(z=fixed_z)` every `every` epochs from one fixed latent batch,
    so successive grids are comparable. Keeps every grid in `self.snapshots`.

    show: display inline (in Jupyter); save_dir: also write epoch_XXX.png there.
    labels: for a conditional model, the class of each of the n images (e.g. np.arange(n) % 10),
    passed to model.generate(z=..., labels=labels).
    """

    def __init__(self, latent_dim, n=16, every=1, seed=0, value_range=(-1.0, 1.0), show=True, save_dir=None, ncols=8,
                 epochs=None, labels=None):
        super().__init__()
        self.z = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")
        self.labels = labels  # checked against the model's classes when training starts
        self.every, self.value_range, self.show, self.ncols = every, value_range, show, ncols
        # epochs: an explicit list of epochs to draw (e.g. 1, 2, 5, 10, ... where early change is fast)
        self.epochs = None if epochs is None else sorted({_checks.check_positive_int(e, "epochs") for e in epochs})
        self.save_dir = save_dir
        self.snapshots = []  # list of (epoch, images)
        if save_dir:
            os.makedirs(save_dir, exist_ok=True)

    def on_train_begin(self, logs=None):
        if self.labels is not None:
            self.labels = self.model.check_labels(self.labels, len(self.z))

    def _wanted(self, done):
        if self.epochs is not None:
            return done in self.epochs or done == self.params.get("epochs")
        return done % self.every == 0 or done == self.params.get("epochs")

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if not self._wanted(done):
            return
        images = self.model.generate(z=self.z) if self.labels is None else self.model.generate(z=self.z, labels=self.labels)
        self.snapshots.append((done, images))
        if not (self.show or self.save_dir):
            return
        fig = plotting.image_grid(images, ncols=self.ncols, value_range=self.value_range, title=f"epoch {done}", scale=0.8)
        if self.save_dir:
            fig.savefig(os.path.join(self.save_dir, f"epoch_{done:03d}.png"), dpi=80)
        if self.show:
            try:
                from IPython.display import display

                display(fig)
            except ImportError:  # plain Python: nothing to draw on
                pass
        plt.close(fig)

    def progress_figure(self, max_rows=None):
        """One row per snapshot, labelled with its epoch: training at a glance. max_rows thins the
        rows evenly (first and last kept); by default every snapshot is shown."""
        if not self.snapshots:
            raise ValueError("no snapshots yet: train with this callback first")
        rows = len(self.snapshots) if max_rows is None else _checks.check_positive_int(max_rows, "max_rows")
        keep = np.unique(np.linspace(0, len(self.snapshots) - 1, min(rows, len(self.snapshots))).round().astype(int))
        chosen = [self.snapshots[i] for i in keep]
        return plotting.image_rows(
            [images[: self.ncols] for _, images in chosen],
            [f"epoch {epoch}" for epoch, _ in chosen],
            value_range=self.value_range,
            scale=0.8,
        )


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first batch at which `seconds` of wall-clock time
    (counted from the start of fit) are used, e.g. to compare models at equal training time.

    `stopped_after` holds the batches run when the limit stopped training (None otherwise).
    """

    def __init__(self, seconds):
        super().__init__()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        self.seconds = float(seconds)
        self.stopped_after = None

    def on_train_begin(self, logs=None):
        self._start, self._batches, self.stopped_after = time.perf_counter(), 0, None

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True
            self.stopped_after = self._batches


class TimeDecay(keras.callbacks.Callback):
    """A learning-rate schedule for a run whose length is set in seconds, not steps (use with TimeLimit).

    Before each batch: rate = peak * min(1, (step + 1) / warmup_steps) * (1 - elapsed / seconds),
    a linear warm-up, then a linear decay that reaches 0 when the time is up. `peak` is the
    optimizer's learning rate when training starts (a number, not a schedule); it is put back after.
    """

    def __init__(self, seconds, warmup_steps=0):
        super().__init__()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be a non-negative integer, got {warmup_steps!r}")
        self.seconds, self.warmup_steps = float(seconds), warmup_steps

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        self.peak = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        try:
            optimizer.learning_rate = self.peak
        except (TypeError, AttributeError):  # a schedule or a callable: not settable
            raise ValueError("TimeDecay sets the learning rate itself: give the optimizer a number, e.g. Adam(3e-3)") from None
        self._start, self._step = time.perf_counter(), 0

    def on_train_batch_begin(self, batch, logs=None):
        warm = min(1.0, (self._step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        left = max(0.0, 1.0 - (time.perf_counter() - self._start) / self.seconds)
        self.model.optimizer.learning_rate = self.peak * warm * left
        self._step += 1

    def on_train_end(self, logs=None):
        self.model.optimizer.learning_rate = self.peak


class ScoreTracker(keras.callbacks.Callback):
    """Scores the model while it trains: `score(model)` -> {name: value}, after every `every` epochs
    and the last. `epochs` lists the epochs scored and `history` {name: [value per scored epoch]},
    so a quality or diversity curve (e.g. modes covered) can be drawn next to the losses. Numbers
    are kept as floats, texts (generated samples) as strings, arrays (a histogram, images) as NumPy arrays.
    """

    def __init__(self, score, every=1):
        super().__init__()
        if not callable(score):
            raise TypeError(f"score must be a function of the model, got {type(score).__name__}")
        self.score, self.every = score, _checks.check_positive_int(every, "every")
        self.epochs, self.history = [], {}

    def on_train_begin(self, logs=None):
        self.epochs, self.history = [], {}

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.params.get("epochs"):
            return
        values = self.score(self.model)
        if not isinstance(values, dict):
            raise TypeError(f"score must return a dict {{name: value}}, got {type(values).__name__}")
        self.epochs.append(done)
        for name, value in values.items():
            self.history.setdefault(name, []).append(_recorded(value))


def _recorded(value):
    """Numbers as floats, texts (a string or a list of strings) as they are, arrays as NumPy arrays."""
    if isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
        return value
    return float(value) if np.ndim(value) == 0 else np.asarray(value)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def _format_logs(logs):
    return "  ".join(f"{name} {value:.4g}" for name, value in (logs or {}).items()
                     if isinstance(value, (int, float, np.floating, np.integer)))


class _LiveLine:
    """One line of text that is rewritten in place: a display handle in Jupyter, a carriage
    return on a terminal, nothing elsewhere (a log file keeps only the printed lines)."""

    def __init__(self):
        self._handle = None
        self._terminal = False
        try:
            from IPython import get_ipython
            from IPython.display import display

            if get_ipython() is not None and "ipykernel" in sys.modules:
                self._handle = display({"text/plain": ""}, raw=True, display_id=True)
                return
        except ImportError:
            pass
        self._terminal = sys.stderr.isatty()

    def update(self, text):
        if self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
        elif self._terminal:
            sys.stderr.write("\r" + text)
            sys.stderr.flush()

    def clear(self):
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)
        elif self._terminal:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class ProgressLog(keras.callbacks.Callback):
    """A live progress bar with ETA while fit() runs, and a short log that stays.

    Use with fit(verbose=0). While training, one line is rewritten in place (epoch, step, share
    done, elapsed time, time left, the running figures); it is removed at the end. What stays is
    one printed line every `every` epochs (default: about `lines` lines in all), each with the
    epoch's figures (validation ones included), and a summary line with the last epoch's figures
    and the total time, so a saved notebook shows a short log instead of a wall of per-epoch
    lines; every=0 keeps only the summary. `title` names the run in each line.
    """

    def __init__(self, every=None, lines=8, title=None, refresh_seconds=0.5):
        super().__init__()
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 0):
            raise ValueError(f"every must be None or an integer >= 0, got {every!r}")
        self.every, self.lines = every, _checks.check_positive_int(lines, "lines")
        self.title, self.refresh_seconds = title, float(refresh_seconds)
        self.history = []  # (epoch, logs) of every epoch

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") or 1
        self._steps = self.params.get("steps")  # None when the data's length is unknown
        self._every = self.every if self.every is not None else max(1, -(-self._epochs // self.lines))
        self._start = self._shown = time.perf_counter()
        self._epoch, self._step, self._batch_logs, self.history = 0, 0, {}, []
        self._line = _LiveLine()
        self._show()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._step = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self._step, self._batch_logs = batch + 1, logs or {}
        if time.perf_counter() - self._shown >= self.refresh_seconds:
            self._show()

    def _fraction(self):
        within = self._step / self._steps if self._steps else 0.0
        return min(1.0, (self._epoch + within) / self._epochs)

    def _prefix(self, epoch):
        return (f"{self.title}: " if self.title else "") + f"epoch {epoch:>{len(str(self._epochs))}}/{self._epochs}"

    def _show(self):
        self._shown = time.perf_counter()
        elapsed, fraction = self._shown - self._start, self._fraction()
        left = f"{_clock(elapsed / fraction - elapsed)} left" if fraction > 0 else "-:-- left"
        bar = "#" * int(24 * fraction) + "." * (24 - int(24 * fraction))
        steps = f" step {self._step}/{self._steps}" if self._steps else ""
        self._line.update(f"{self._prefix(self._epoch + 1)}{steps} [{bar}] {fraction:4.0%} "
                          f"{_clock(elapsed)} elapsed, {left}  {_format_logs(self._batch_logs)}")

    def on_epoch_end(self, epoch, logs=None):
        self.history.append((epoch + 1, dict(logs or {})))
        if self._every and (epoch + 1) % self._every == 0 and epoch + 1 < self._epochs:
            print(f"{self._prefix(epoch + 1)}  {_format_logs(logs)}  ({_clock(time.perf_counter() - self._start)})",
                  flush=True)

    def on_train_end(self, logs=None):
        """The live line goes; the summary (last epoch's figures, total time) is printed and stays."""
        epoch, last_logs = self.history[-1] if self.history else (0, {})
        stopped = " (stopped early)" if epoch < self._epochs else ""
        self._line.clear()
        print(f"{self._prefix(epoch)} done{stopped} in {_clock(time.perf_counter() - self._start)}  "
              f"{_format_logs(last_logs)}", flush=True)


class SampleSummaries(keras.callbacks.Callback):
    """Writes what the model generates to TensorBoard every `every` epochs, next to the losses that
    keras.callbacks.TensorBoard logs: `sample(model)` returns images (n, h, w, c) in [0, 1] or a list
    of strings, written as an image or a text summary named `name` in `logdir`/samples, at the
    0-based epoch as its step (as keras.callbacks.TensorBoard numbers its epochs).
    """

    def __init__(self, logdir, sample, every=1, name="samples", max_images=16):
        super().__init__()
        if not callable(sample):
            raise TypeError(f"sample must be a function of the model, got {type(sample).__name__}")
        self.logdir, self.sample, self.name = os.fspath(logdir), sample, str(name)
        self.every, self.max_images = _checks.check_positive_int(every, "every"), _checks.check_positive_int(
            max_images, "max_images")
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(os.path.join(self.logdir, "samples"))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every and epoch + 1 != self.params.get("epochs"):
            return
        samples = self.sample(self.model)
        with self._writer.as_default():
            if isinstance(samples, (list, tuple)) and all(isinstance(s, str) for s in samples):
                tf.summary.text(self.name, tf.constant(list(samples)), step=epoch)
            else:
                images = _checks.check_range(_checks.as_float_array(samples, "samples"), 0.0, 1.0, "samples")
                if images.ndim != 4:
                    raise ValueError(f"sample(model) must return images (n, h, w, c) or a list of strings, "
                                     f"got an array of shape {images.shape}")
                tf.summary.image(self.name, images, step=epoch, max_outputs=self.max_images)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()


def read_tensorboard(logdir):
    """Everything the event files under `logdir` hold, for plotting inside a notebook that a reader
    sees on GitHub: {"scalars": {"train/epoch_loss": [(step, value), ...]}, "texts": {...: [(step, [str])]},
    "images": {...: [(step, array (n, h, w, c) uint8)]}}, keyed by "<run folder>/<tag>"."""
    if not os.path.isdir(os.fspath(logdir)):
        raise FileNotFoundError(f"no TensorBoard log folder at {logdir}")
    out = {"scalars": {}, "texts": {}, "images": {}}
    for folder, _, files in sorted(os.walk(logdir)):
        run = os.path.relpath(folder, logdir)
        for file in sorted(f for f in files if "tfevents" in f):
            for record in tf.data.TFRecordDataset(os.path.join(folder, file)):
                event = tf.compat.v1.Event.FromString(record.numpy())
                for value in event.summary.value:
                    kind = value.metadata.plugin_data.plugin_name
                    key = f"{run}/{value.tag}"
                    content = tf.make_ndarray(value.tensor)
                    if kind == "scalars":
                        out["scalars"].setdefault(key, []).append((event.step, float(content)))
                    elif kind == "text":
                        out["texts"].setdefault(key, []).append(
                            (event.step, [t.decode("utf-8") for t in np.atleast_1d(content)]))
                    elif kind == "images":  # width, height, then one encoded PNG per image
                        pngs = [tf.io.decode_png(png).numpy() for png in content[2:]]
                        out["images"].setdefault(key, []).append((event.step, np.stack(pngs)))
    return out
