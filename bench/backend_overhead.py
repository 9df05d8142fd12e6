"""GMP training overhead beyond the TensorFlow CNN: the CNN on JAX, a KerasHub encoder.

Two rows for `bench.overhead`, each kerasprune `PruningCallback` vs plain Keras 3 `fit` on
the same model and data, alternated in one process (the order rotates every repetition):

- `jax`: the FACTS.md CNN on the MNIST split with KERAS_BACKEND=jax, the schedule of the
  TensorFlow rows (masks updated at the start of epochs 1-3, frozen in epoch 4). JAX is
  picked when Keras is imported, so this row runs in a child process:
  `python -m bench.backend_overhead jax OUT.json`.
- `transformer`: a 2-layer `keras_hub.models.BertTextClassifier` (hidden 128, sequences of
  32 tokens, from a config) on TensorFlow, trained on the docstring sentences of
  `examples.datasets.load_docstring_topics` (tokenized once, repeated to 2,480 samples),
  every encoder kernel pruned.

Epoch times after the first (tracing) epoch: min and median, and the paired ratio (median
over repetitions of pruned / plain epochs 2-4 of the same repetition), of wall and of
process CPU time (less disturbed when other programs share the cores).

Usage (from the repository root): `python -m bench.overhead` runs both and writes them
into its section; `python -m bench.backend_overhead jax OUT.json [--quick]` runs one row.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench import common

EPOCHS = 4
VARIANTS = ("plain", "kerasprune")


def gmp_callback(kerasprune):
    return kerasprune.PruningCallback(
        0.9, stabilization_epochs=0, pruning_epochs=3, finetune_epochs=1,
        initial_sparsity=0.0, update_every="epoch", schedule="cubic")


def cnn_variant(name: str, seed: int):
    """The CNN, plain or pruning-ready, compiled; with its callbacks."""
    import keras
    import kerasprune

    keras.utils.set_random_seed(seed)
    model = common.build_cnn(keras)
    callbacks = []
    if name == "kerasprune":
        model, callbacks = kerasprune.prune(model), [gmp_callback(kerasprune)]
    common.compile_cnn(keras, model)
    return model, callbacks


def encoder_variant(name: str, seed: int, vocabulary_size: int):
    """The small BERT classifier, plain or pruning-ready, compiled; with its callbacks."""
    import keras
    import keras_hub
    import kerasprune

    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size, num_layers=2, num_heads=2, hidden_dim=128,
        intermediate_dim=256, max_sequence_length=32)
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    callbacks = []
    if name == "kerasprune":
        model, callbacks = kerasprune.prune(model), [gmp_callback(kerasprune)]
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, callbacks


def encoder_data():
    """Docstring sentences as BERT inputs (token ids, segments, padding mask), 2,480 rows."""
    import keras_hub
    import numpy as np

    from examples import datasets, kerashub_text

    (texts, labels), _ = datasets.load_docstring_topics()
    vocab = kerashub_text.vocabulary(texts)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer,
                                                                   sequence_length=32)
    x = {k: np.tile(np.asarray(v), (8, 1)) for k, v in preprocessor(texts).items()}
    return x, np.tile(labels, 8), len(vocab)


def time_row(build, x, y, batch_size: int, repeats: int) -> dict:
    """Alternated `fit`s of both variants; epoch times and the paired ratio."""
    import keras

    times = {name: [] for name in VARIANTS}
    cpu = {name: [] for name in VARIANTS}
    for rep in range(repeats):
        for name in VARIANTS[rep % 2:] + VARIANTS[: rep % 2]:
            model, callbacks = build(name, rep)
            timer = common.EpochTimer(keras)
            model.fit(x, y, batch_size=batch_size, epochs=EPOCHS, verbose=0,
                      callbacks=timer.around(callbacks))
            times[name].append(timer.times)
            cpu[name].append(timer.cpu_times)
            print(f"{keras.backend.backend()} rep {rep} {name}: "
                  + " ".join(f"{t:.2f}" for t in timer.times), flush=True)
    later = {n: [t for run in runs for t in run[1:]] for n, runs in times.items()}
    return {
        "backend": keras.backend.backend(),
        "repeats": repeats,
        **{f"{n}_min": min(later[n]) for n in VARIANTS},
        **{f"{n}_median": statistics.median(later[n]) for n in VARIANTS},
        "paired": _paired(times),
        "paired_cpu": _paired(cpu),
    }


def _paired(times: dict) -> float:
    """Median over repetitions of pruned / plain epochs 2-4 of the same repetition."""
    return statistics.median(
        sum(p[1:]) / sum(b[1:]) for p, b in zip(times["kerasprune"], times["plain"]))


def jax_row(data, repeats: int) -> dict:
    (x_train, y_train), _ = data
    return time_row(cnn_variant, x_train, y_train, 128, repeats)


def transformer_row(repeats: int) -> dict:
    x, y, vocabulary_size = encoder_data()
    return time_row(lambda name, seed: encoder_variant(name, seed, vocabulary_size),
                    x, y, 32, repeats)


def run_jax_row(args) -> dict:
    """The JAX row in a child process (Keras picks its backend once per process)."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "jax.json")
        command = [sys.executable, "-m", "bench.backend_overhead", "jax", out,
                   "--data-dir", args.data_dir, "--n-train", str(args.n_train),
                   "--repeats", str(args.repeats)]
        env = dict(os.environ, KERAS_BACKEND="jax")
        subprocess.run(command, cwd=common.ROOT, env=env, check=True)
        with open(out) as file:
            return json.load(file)


def section(args) -> str:
    """Both rows, timed with `args.repeats` repetitions, as markdown."""
    return markdown(run_jax_row(args), transformer_row(args.repeats), args.n_train)


def markdown(jax: dict, transformer: dict, n_train: int) -> str:
    """The rows' subsection of the `overhead` section."""
    lines = [
        "### Other backends and models",
        "",
        "kerasprune GMP (`PruningCallback(0.9, ...)`, the schedule above) vs plain Keras 3 "
        "`fit` of the same model; epochs 2-4, min / median; paired = median over "
        "repetitions of (pruned / plain epochs 2-4 of the same repetition).",
        "",
        "| row | model | plain epoch s | kerasprune epoch s | ratio of mins | paired ratio "
        "(wall / CPU) | target <= 1.05 |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = (("JAX", f"the CNN above, MNIST {n_train} train, batch 128", jax),
            ("transformer (TensorFlow)", "KerasHub BertTextClassifier, 2 layers, hidden 128, "
             "32 tokens, 2,480 docstring sentences, batch 32", transformer))
    for label, model, row in rows:
        ratio = row["kerasprune_min"] / row["plain_min"]
        met = ("met" if ratio <= 1.05 else "missed") if row is jax else "no target"
        lines.append(
            f"| {label} | {model} | {row['plain_min']:.3f} / {row['plain_median']:.3f} "
            f"| {row['kerasprune_min']:.3f} / {row['kerasprune_median']:.3f} | {ratio:.3f} "
            f"| {row['paired']:.3f} / {row['paired_cpu']:.3f} | {met} ({row['repeats']} "
            "repetitions) |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", choices=("jax", "transformer"))
    parser.add_argument("out", help="JSON file for the row's numbers")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=8000)
    common.add_data_dir_argument(parser)
    args = parser.parse_args()
    if args.row == "jax":
        (x_train, y_train), test = common.load_split(args.data_dir)
        result = jax_row(((x_train[: args.n_train], y_train[: args.n_train]), test), args.repeats)
    else:
        result = transformer_row(args.repeats)
    with open(args.out, "w") as file:
        json.dump(result, file)
