"""Incremental generation against re-running the growing sequence, for the GRU and the GPT.

    python benchmarks/generation_benchmark.py           # full run, writes benchmarks/generation_results.md
    python benchmarks/generation_benchmark.py --quick   # smoke test: short texts, prints only

One process. Each model is trained for a few epochs on the CPython help texts, so that its samples
look like text (quality is not the point here). Both paths of a model draw from the same sampler
(temperature 0.8) with the same NumPy seed, and both are compiled the same way (`tf.function`):

- GRU (`CharLanguageModel`, embedding 64, GRU 256), 500 new characters. Incremental: `generate`
  runs the prompt once, then one GRU step per character. Reference: what keras-io's LSTM text
  generation and many tutorials do: for every new character, run the whole sequence so far through
  the model (`next_token_logits`).
- GPT (4 layers, 4 heads, width 128, context 512), 256 new tokens after a 4-character and after a
  240-character prompt, for one text, and for 16 texts at once after the short prompt. Incremental:
  `generate` with the key/value cache (the prompt fills it, then one position per token). Reference: `use_cache=False`, which re-runs the whole sequence for every
  token, as nanoGPT and keras-io's miniature GPT do.

Work per token is O(1) for the GRU state and O(t) attention for the cache, against O(t) and O(t^2)
for the re-runs. Each path is timed `repeats` times after one warm-up; the table gives medians.
"""

import argparse
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

from keras_genai import GPT, CharLanguageModel, datasets, sampling, tokenizers  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
RESULTS = HERE / "generation_results.md"
PROMPT = "The "
# A second GPT prompt of 240 characters: the re-run then reads 245 to 500 positions per token.
LONG_PROMPT = (
    "The following methods can be defined to customize the meaning of attribute access (use of, assignment "
    "to, or deletion of \"x.name\") for class instances. Called when the default attribute access fails with"
    " an AttributeError. It is not called when the attribute is found through the normal mechanism. "
)[:240]
SAMPLER = sampling.Temperature(0.8)
BATCH = 16  # texts generated at once in the batched GPT case, as generate(num_samples=...) or a list of prompts does


def prose_windows(quick, length):
    prose = datasets.load_prose(source="pydoc", verbose=False)
    texts = prose.train[:5] if quick else prose.train
    tok = tokenizers.CharTokenizer.from_texts(prose.train)
    ids = [tok.encode(t, add_start=True, add_end=True) for t in texts]
    windows = datasets.token_windows(ids, length)
    return tok, windows[:64] if quick else windows


def train_gru(quick):
    tok, windows = prose_windows(quick, 128)
    keras.utils.set_random_seed(0)
    model = CharLanguageModel(tok, embedding_dim=64, units=256)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(datasets.sequence_dataset(windows, 64), epochs=1 if quick else 3, verbose=0)
    return model


def train_gpt(quick):
    tok, windows = prose_windows(quick, 511)  # whole context windows: every position is trained
    keras.utils.set_random_seed(0)
    model = GPT(tok, context_length=512, num_layers=4, num_heads=4, embed_dim=128)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(datasets.sequence_dataset(windows, 16 if not quick else 8), epochs=1 if quick else 2, verbose=0)
    return model


def rerun_generate(model, prompt, n, seed):
    """The GRU reference: re-run the whole sequence for every new character (same sampler, same draws)."""
    tok, rng = model.tokenizer, np.random.default_rng(seed)
    ids = list(tok.encode(prompt, add_start=True))
    for _ in range(n):
        token = int(SAMPLER(model.next_token_logits(np.array([ids], dtype="int32")), rng)[0])
        if token == tok.end_id:
            break
        ids.append(token)
    return prompt + tok.decode(ids[len(prompt) + 1:])


def timed(fn, repeats):
    fn()  # warm-up: traces the graphs
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times))


def compare(title, fast_label, slow_label, fast_fn, slow_fn, repeats, prompt=PROMPT):
    """Times both paths; a list of texts (a batch of one prompt) counts the steps of its longest row."""
    fast, fast_s = timed(fast_fn, repeats)
    slow, slow_s = timed(slow_fn, repeats)
    rows = fast if isinstance(fast, list) else [fast]
    new = max(len(text) for text in rows) - len(prompt)
    lines = [
        f"## {title}",
        "",
        "| path | seconds | ms per step |",
        "|---|---|---|",
        f"| {fast_label} | {fast_s:.2f} | {1000 * fast_s / new:.2f} |",
        f"| {slow_label} (reference) | {slow_s:.2f} | {1000 * slow_s / new:.2f} |",
        "",
        f"Speed-up: **{slow_s / fast_s:.1f}x** for {new} generation steps. "
        f"Same text from both paths: **{'yes' if fast == slow else 'NO'}**.",
        "",
        "```",
        rows[0][len(prompt):][:240],
        "```",
        "",
    ]
    return lines, fast == slow


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    n_gru, n_gpt = (50, 50) if args.quick else (500, 256)
    gru, gpt = train_gru(args.quick), train_gpt(args.quick)
    gru_lines, gru_same = compare(
        f"GRU: {n_gru} characters", "incremental (`generate`, GRU state carried)", "re-run the growing sequence",
        lambda: gru.generate(PROMPT, n_gru, sampler=SAMPLER, seed=0), lambda: rerun_generate(gru, PROMPT, n_gru, 0),
        repeats)
    gpt_lines, gpt_same = [], True
    for prompt, texts in ((PROMPT, 1), (LONG_PROMPT, 1), (PROMPT, BATCH)):
        batch = prompt if texts == 1 else [prompt] * texts
        lines, same = compare(
            f"GPT: {n_gpt} tokens after a {len(prompt)}-character prompt" + (f", {texts} texts at once" if texts > 1 else ""),
            "key/value cache (`generate`)", "no cache (`generate(use_cache=False)`)",
            lambda: gpt.generate(batch, n_gpt, sampler=SAMPLER, seed=0),
            lambda: gpt.generate(batch, n_gpt, sampler=SAMPLER, seed=0, use_cache=False), repeats, prompt)
        gpt_lines, gpt_same = gpt_lines + lines, gpt_same and same
    header = [
        "# Incremental generation vs re-running the sequence",
        "",
        f"`python benchmarks/generation_benchmark.py` on {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {keras.__version__}. Prompt {PROMPT!r}, "
        f"{SAMPLER!r}, seed 0; median of {repeats} timed runs after a warm-up; one process.",
        "",
    ]
    report = "\n".join(header + gru_lines + gpt_lines)
    print(report)
    if not (gru_same and gpt_same):
        print("the two paths of a model disagree", file=sys.stderr)
        sys.exit(1)
    if not args.quick:
        RESULTS.write_text(report)


if __name__ == "__main__":
    main()
