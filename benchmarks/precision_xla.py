"""Training speed under mixed precision and XLA, against float32 graph mode, on this machine, in one process.

    python benchmarks/precision_xla.py           # ~2-3 min, writes benchmarks/precision_xla_results.md
    python benchmarks/precision_xla.py --quick   # smoke test (seconds), writes build/precision_xla_results.md

Two model families, each in three variants built and compiled alike:
  float32 graph mode (the reference: compile()'s default jit_compile="auto" is graph mode on a CPU),
  mixed_bfloat16, and float32 with jit_compile=True. (mixed_float16 is left out: TensorFlow's CPU
  kernels for float16 convolutions are slow, and the DCGAN's step took ~100x longer in a trial run on
  a CPU with AVX512-FP16; float16 is for GPUs.)
The DCGAN is the package default (GAN(nets.dcgan_generator(), nets.dcgan_discriminator()), 28x28, batch 64);
the GPT a small character model (2 layers, 4 heads, width 128, context 64, batch 32). Data are random
(speed does not depend on the pixels or ids). After a warm-up that traces every graph, the variants run in
rounds, in a new random order each round, so load from other processes hits them alike; each ratio to the
reference is computed within its round, and the table shows the median over rounds.
Whether bfloat16 can help depends on the CPU: the oneDNN kernels use AVX512-BF16 / AMX-BF16 where the
CPU has them (lscpu flags, recorded in the results); without them bfloat16 is emulated and slower.
"""

import argparse
import datetime
import os
import pathlib
import platform
import subprocess
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_genai import GAN, GPT, nets, tokenizers  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
VARIANTS = {  # name: (dtype policy, jit_compile)
    "float32 (graph)": ("float32", "auto"),
    "mixed_bfloat16": ("mixed_bfloat16", "auto"),
    "float32 + XLA": ("float32", True),
}
CPU_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16")


def dcgan(jit_compile):
    model = GAN(nets.dcgan_generator(), nets.dcgan_discriminator(), seed=0)
    model.compile(jit_compile=jit_compile)
    x = np.random.default_rng(0).uniform(-1, 1, (64 * 8, 28, 28, 1)).astype("float32")
    return model, tf.data.Dataset.from_tensor_slices(x).batch(64, drop_remainder=True).repeat()


def gpt(jit_compile):
    tok = tokenizers.CharTokenizer(list("abcdefghijklmnopqrstuvwxyz .,"))
    model = GPT(tok, context_length=64, num_layers=2, num_heads=4, embed_dim=128)
    model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    ids = np.random.default_rng(0).integers(tok.first_character_id, tok.vocab_size, (32 * 8, 65)).astype("int32")
    return model, tf.data.Dataset.from_tensor_slices(ids).batch(32, drop_remainder=True).repeat()


FAMILIES = {"DCGAN (GAN, batch 64)": dcgan, "GPT (char, batch 32)": gpt}


def build(family, policy, jit_compile):
    keras.mixed_precision.set_global_policy(policy)  # read when the layers are created
    try:
        keras.utils.set_random_seed(0)
        return FAMILIES[family](jit_compile)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def seconds_per_step(model, data, steps):
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps


def measure(family, steps, rounds, warmup, rng):
    runs = {name: build(family, *settings) for name, settings in VARIANTS.items()}
    for model, data in runs.values():
        seconds_per_step(model, data, warmup)  # traces (and XLA-compiles) the train step
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name in rng.permutation(list(runs)):
            times[name].append(seconds_per_step(*runs[name], steps))
    reference = np.array(times["float32 (graph)"])
    return {name: (1.0 / np.median(t), np.median(reference / np.array(t)), np.min(reference / t), np.max(reference / t))
            for name, t in times.items()}


def cpu_flags():
    flags = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    present = set(next((line.split(":", 1)[1].split() for line in flags.splitlines() if line.startswith("Flags")), []))
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("Model name")), "?")
    return model, {flag: flag in present for flag in CPU_FLAGS}


def report(results, args, elapsed, loads, cpu):
    model, flags = cpu
    lines = [
        "# Mixed precision and XLA: training steps per second against float32 graph mode",
        "",
        f"Written by `benchmarks/precision_xla.py` on {datetime.date.today()} ({platform.machine()}, "
        f"{os.cpu_count()} CPU cores, {model}, TensorFlow {tf.__version__}, Keras {keras.__version__}).",
        f"Command: `python benchmarks/precision_xla.py{' --quick' if args.quick else ''}`; total run time "
        f"{elapsed / 60:.1f} min; load average (1 min) {loads[0]:.1f} at the start, {loads[1]:.1f} at the end "
        "(other jobs shared the CPU: absolute rates are noisy, the ratios come from interleaved rounds).",
        "",
        "CPU support (lscpu flags): " + ", ".join(f"{flag} {'yes' if on else 'no'}" for flag, on in flags.items())
        + ".",
        "",
        f"{args.rounds} rounds of {args.steps} steps per variant after a warm-up of {args.warmup} steps; "
        "ratio > 1 is faster than float32 graph mode in the same round.",
        "",
        "| model | variant | steps/s (median) | ratio to float32 (median) | min - max |",
        "|---|---|---:|---:|---|",
    ]
    for family, rows in results.items():
        for name, (rate, ratio, low, high) in rows.items():
            lines.append(f"| {family} | {name} | {rate:.2f} | {ratio:.2f} | {low:.2f} - {high:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    args.steps, args.rounds, args.warmup = (2, 2, 2) if args.quick else (20, 15, 3)
    out = (HERE.parent / "build" if args.quick else HERE) / "precision_xla_results.md"
    start, loads = time.perf_counter(), [os.getloadavg()[0]]
    rng = np.random.default_rng(0)
    results = {}
    for family in FAMILIES:
        results[family] = measure(family, args.steps, args.rounds, args.warmup, rng)
        print(family, {name: round(float(row[1]), 2) for name, row in results[family].items()}, flush=True)
    loads.append(os.getloadavg()[0])
    out.parent.mkdir(exist_ok=True)
    out.write_text(report(results, args, time.perf_counter() - start, loads, cpu_flags()))
    print(out.read_text())


if __name__ == "__main__":
    main()
