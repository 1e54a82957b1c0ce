"""Figures for the notebooks. Every function returns a matplotlib Figure; none calls show()."""


import matplotlib.pyplot as plt
import numpy as np

from keras_genai import _checks


def _as_display(images, value_range):
    """Images in value_range -> [0, 1] for imshow. Values outside the range are refused, not clipped:
    GAN samples in [-1, 1] drawn with the default (0, 1) would silently lose every dark pixel."""
    images = _checks.check_finite(_checks.as_float_array(images, "images"), "images")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (n, height, width[, channels]), got {images.shape}")
    low, high = value_range
    _checks.check_range(images, low, high, "images (pass their pixel range as value_range)")
    images = np.clip((images - low) / (high - low), 0.0, 1.0)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    return images


def image_grid(images, ncols=8, value_range=(0.0, 1.0), titles=None, title=None, scale=1.0):
    """A grid of images (n, h, w[, c]) with pixel values in `value_range`."""
    images = _as_display(images, value_range)
    n = len(images)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_rows(rows, row_labels, value_range=(0.0, 1.0), scale=1.0):
    """Several equally long rows of images, one label per row (e.g. input / noisy / output)."""
    rows = [_as_display(r, value_range) for r in rows]
    ncols = len(rows[0])
    fig, axes = plt.subplots(len(rows), ncols, figsize=(scale * ncols + 1, scale * len(rows)), squeeze=False)
    for r, (row, label) in enumerate(zip(rows, row_labels)):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            ax.imshow(row[c], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def plot_history(history, keys=None, title=None):
    """Loss curves from a Keras History (or its .history dict); val_ curves dashed."""
    logs = history.history if hasattr(history, "history") else dict(history)
    keys = keys or [k for k in logs if not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        epochs = np.arange(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], label="train")
        if "val_" + key in logs:
            ax.plot(epochs, logs["val_" + key], "--", label="validation")
            ax.legend()
        ax.set_title(key)
        ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def latent_scatter(z, labels, title="Latent space"):
    """2-D latent codes coloured by digit label."""
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"latent_scatter needs codes of shape (n, >=2), got {z.shape}")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=4, alpha=0.8)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z[0]"), ax.set_ylabel("z[1]"), ax.set_title(title)
    fig.tight_layout()
    return fig


def latent_grid(decode, n=15, limit=2.5, value_range=(0.0, 1.0), center=(0.0, 0.0)):
    """Decode a regular n x n grid of 2-D latent points in center + [-limit, limit]^2 into one image.

    center: where the grid sits; a plain autoencoder's codes are not centred on 0.
    """
    n = _checks.check_positive_int(n, "n")
    cx, cy = (float(c) for c in center)
    xs, ys = cx + np.linspace(-limit, limit, n), cy + np.linspace(-limit, limit, n)
    z = np.array([[x, y] for y in ys[::-1] for x in xs], dtype="float32")
    images = _as_display(decode(z), value_range)
    h, w = images.shape[1:3]
    canvas = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(canvas, cmap="gray", extent=[cx - limit, cx + limit, cy - limit, cy + limit])
    ax.set_xlabel("z[0]"), ax.set_ylabel("z[1]"), ax.set_title("Decoded latent grid")
    fig.tight_layout()
    return fig


def interpolate(z_start, z_end, steps=10):
    """Straight-line path between two latent vectors: (steps, latent_dim)."""
    if _checks.check_positive_int(steps, "steps") < 2:
        raise ValueError(f"steps must be at least 2 (the two end points), got {steps}")
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return (1 - t) * np.asarray(z_start, "float32")[None] + t * np.asarray(z_end, "float32")[None]


def interpolation_rows(decode, pairs, steps=10, value_range=(0.0, 1.0)):
    """One row of decoded images per (z_start, z_end) pair."""
    rows = [decode(interpolate(a, b, steps)) for a, b in pairs]
    return image_rows(rows, [f"pair {i + 1}" for i in range(len(rows))], value_range)


def _points_2d(points, name):
    points = _checks.check_finite(_checks.as_float_array(points, name), name)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{name} must be 2-D points of shape (n, 2), got {points.shape}")
    return points


def _draw_2d(ax, real, fake, title, limit):
    ax.scatter(*_points_2d(real, "real").T, s=3, c="0.6", label="real")
    if fake is not None:
        ax.scatter(*_points_2d(fake, "fake").T, s=3, c="tab:red", label="generated")
        ax.legend(loc="upper right")
    ax.set_xlim(-limit, limit), ax.set_ylim(-limit, limit), ax.set_aspect("equal")
    if title:
        ax.set_title(title)


def scatter_2d(real, fake=None, title=None, limit=3.0):
    """Real 2-D points (grey) and generated points (red) on the same axes."""
    fig, ax = plt.subplots(figsize=(4, 4))
    _draw_2d(ax, real, fake, title, limit)
    fig.tight_layout()
    return fig


def scatter_2d_panels(real, panels, limit=3.0, ncols=4):
    """One scatter_2d panel per entry of `panels` ({title: generated points}), side by side:
    training snapshots, or several models against the same real data."""
    if not panels:
        raise ValueError("panels is empty: pass {title: points}")
    ncols = min(ncols, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.2 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, fake) in zip(axes.flat, panels.items()):
        _draw_2d(ax, real, fake, title, limit)
    fig.tight_layout()
    return fig


def attention_map(weights, source, target, ax=None, title=None):
    """Heat map of attention weights (len(target) [+ 1 for the end token], len(source)):
    one row per output character, one column per input character."""
    weights = np.asarray(weights, dtype="float64")
    rows = list(target) + ["<end>"] * (weights.shape[0] - len(target))
    if weights.ndim != 2 or weights.shape[1] != len(source) or len(rows) != weights.shape[0]:
        raise ValueError(f"weights of shape {weights.shape} do not match {len(target)} output and {len(source)} input characters")
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.28 * len(source) + 1.5, 0.28 * len(rows) + 1.2))
    else:
        fig = ax.figure
    ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), list(source))
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("input")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    return fig


def save_figure(fig, path):
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


VOICE_COLOURS = ("tab:red", "tab:orange", "tab:green", "tab:blue")  # soprano, alto, tenor, bass


def piano_rolls(scores, titles=None, steps_per_bar=16, ncols=None, scale=1.0):
    """Four-voice scores side by side as piano rolls: time across, MIDI pitch up, one colour per voice.

    scores: a list of voices arrays (voices, time_steps) of MIDI pitches, -1 for a rest (as in
    keras_genai.datasets.music), e.g. real and generated side by side. One cell per sounding step;
    onsets are not drawn, so a held note and a repeated one look alike. Bar lines are dotted.
    """
    scores = [np.asarray(s) for s in scores]
    if not scores or any(s.ndim != 2 for s in scores):
        raise ValueError("scores must be a non-empty list of (voices, time_steps) pitch arrays")
    if titles is not None and len(titles) != len(scores):
        raise ValueError(f"titles must give one title per score ({len(scores)}), got {len(titles)}")
    sounding = np.concatenate([s[s >= 0] for s in scores])
    if not sounding.size:
        raise ValueError("every score is silent: nothing to draw")
    low, high = int(sounding.min()) - 1, int(sounding.max()) + 1
    ncols = min(ncols or len(scores), len(scores))
    nrows = -(-len(scores) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * 3.2 * ncols, scale * 2.4 * nrows), squeeze=False,
                             sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(scores):
            ax.axis("off")
            continue
        for v, row in enumerate(scores[i]):
            steps = np.flatnonzero(row >= 0)
            for t in steps:
                ax.add_patch(plt.Rectangle((t, row[t] - 0.5), 1, 1, color=VOICE_COLOURS[v % len(VOICE_COLOURS)],
                                           linewidth=0))
        for bar in range(0, scores[i].shape[1] + 1, steps_per_bar):
            ax.axvline(bar, color="grey", linestyle=":", linewidth=0.8)
        ax.set_xlim(0, scores[i].shape[1])
        ax.set_ylim(low, high)
        ax.set_xlabel("sixteenth step")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("MIDI pitch")
    fig.tight_layout()
    return fig
