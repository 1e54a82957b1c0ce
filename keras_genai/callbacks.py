"""Callbacks that show what a generative model produces while it trains."""

import os
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

from keras_genai import plotting


class ImageGridMonitor(keras.callbacks.Callback):
    """Draws `model.generate(z=fixed_z)` every `every` epochs from one fixed latent batch,
    so successive grids are comparable. Keeps every grid in `self.snapshots`.

    show: display inline (in Jupyter); save_dir: also write epoch_XXX.png there.
    """

    def __init__(self, latent_dim, n=16, every=1, seed=0, value_range=(-1.0, 1.0), show=True, save_dir=None, ncols=8):
        super().__init__()
        self.z = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")
        self.every, self.value_range, self.show, self.ncols = every, value_range, show, ncols
        self.save_dir = save_dir
        self.snapshots = []  # list of (epoch, images)
        if save_dir:
            os.makedirs(save_dir, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.params.get("epochs"):
            return
        images = self.model.generate(z=self.z)
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

    def progress_figure(self, max_rows=6):
        """One row per kept snapshot (evenly thinned to max_rows): training at a glance."""
        if not self.snapshots:
            raise ValueError("no snapshots yet: train with this callback first")
        keep = np.unique(np.linspace(0, len(self.snapshots) - 1, max_rows).round().astype(int))
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
