"""One-shot pruning of a KerasHub decoder LM from 128 calibration sequences, no retraining.

Builds a GPT-2-style causal LM from a config (`keras_hub.models.GPT2Backbone` with
KerasHub's `ByteTokenizer`: no download), trains it briefly on English text that ships
with Python itself (the `pydoc_data` topics and the standard library's docstrings), every
tenth document held out, then prunes
its transformer blocks once with each criterion, at 50% unstructured and at 2:4, and
prints the held-out perplexity (per byte) of each:

    python -m examples.one_shot_lm                     # about 7M parameters
    python -m examples.one_shot_lm --layers 1 --hidden 32 --steps 20    # tiny

Magnitude keeps the largest weights; Wanda weighs them by the norm of the input feature
they multiply; SparseGPT (OBS) also updates the weights it keeps to make up for those it
prunes, layer by layer, with inputs that went through the blocks already pruned. The
embeddings (tied to the output projection) stay dense, as in the papers.
"""

from __future__ import annotations

import argparse
import ast
import functools
import os
import sysconfig
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402

CRITERIA = ("magnitude", "wanda", "sparsegpt")
PATTERNS = {"50%": None, "2:4": kerasprune.NM(2, 4)}
#: The embeddings stay dense (the token embedding is also the output projection).
DENSE_LAYERS = ["token_embedding", "position_embedding"]
DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


@functools.cache
def documents() -> tuple[str, ...]:
    """English text that ships with Python itself, one string per document: the
    `pydoc_data` topics (the language reference's sections) and the docstrings of the
    standard library's modules, read from their source (nothing is imported)."""
    from pydoc_data.topics import topics

    texts = [topics[key] for key in sorted(topics)]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if {"test", "tests", "site-packages", "idlelib"} & set(path.relative_to(stdlib).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        nodes = (node for node in ast.walk(tree) if isinstance(node, DOCUMENTED))
        text = "\n\n".join(filter(None, map(ast.get_docstring, nodes)))
        if text:
            texts.append(text)
    return tuple(texts)


def english_text(held_out: int = 10) -> tuple[str, str]:
    """`(train, held-out)` text: every `held_out`-th document (`documents`) held out, so
    both halves come from the same kinds of text and share no document."""
    texts = documents()
    test = set(range(held_out - 1, len(texts), held_out))
    return ("\n".join(t for i, t in enumerate(texts) if i not in test),
            "\n".join(t for i, t in enumerate(texts) if i in test))


def sequences(text: str, length: int) -> np.ndarray:
    """The bytes of `text` (KerasHub's `ByteTokenizer`, which lowercases) in windows of
    `length + 1` tokens: inputs and next-token targets."""
    tokens = np.asarray(keras_hub.tokenizers.ByteTokenizer()(text), dtype=np.int32)
    count = (len(tokens) - 1) // (length + 1)
    return tokens[: count * (length + 1)].reshape(count, length + 1)


def as_inputs(windows: np.ndarray) -> dict[str, np.ndarray]:
    """The causal LM's inputs for windows of tokens (the last token is only a target)."""
    ids = windows[:, :-1]
    return {"token_ids": ids, "padding_mask": np.ones_like(ids, dtype=bool)}


def build_lm(layers: int, hidden: int, heads: int, length: int) -> keras.Model:
    """A GPT-2-style causal LM over bytes, from a config."""
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=256, num_layers=layers, num_heads=heads, hidden_dim=hidden,
        intermediate_dim=4 * hidden, max_sequence_length=length, dropout=0.0)
    return keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)


def train(model: keras.Model, windows: np.ndarray, *, steps: int, batch_size: int,
          learning_rate: float, seed: int, verbose: int = 1) -> list[float]:
    """Adam on random batches of `windows`: a linear warmup over the first 5% of the steps,
    then a cosine decay to a tenth. Returns the training loss of each step."""
    warmup = max(1, steps // 20)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps - warmup), alpha=0.1, warmup_target=learning_rate,
        warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    order = np.random.default_rng(seed).integers(0, len(windows), size=(steps, batch_size))
    progress, losses = keras.utils.Progbar(steps, verbose=verbose), []
    for rows in order:
        logs = model.train_on_batch(as_inputs(windows[rows]), windows[rows, 1:],
                                    return_dict=True)
        losses.append(float(logs["loss"]))
        progress.add(1, [("loss", losses[-1])])
    return losses


def perplexity(model: keras.Model, windows: np.ndarray, batch_size: int = 32) -> float:
    """Per-byte perplexity on `windows`: exp of the mean next-token cross-entropy."""
    total, count = 0.0, 0
    for start in range(0, len(windows), batch_size):
        part = windows[start : start + batch_size]
        logits = np.asarray(model(as_inputs(part), training=False), np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        total -= np.take_along_axis(log_probs, part[:, 1:, None], axis=-1).sum()
        count += part[:, 1:].size
    return float(np.exp(total / count))


def prune_once(model: keras.Model, criterion: str, pattern, calibration: np.ndarray,
               sparsity: float = 0.5) -> tuple[keras.Model, float]:
    """The model pruned once by `criterion` in `pattern` (None: unstructured), and the
    seconds it took. Wanda compares each output's weights (its paper's comparison
    group); magnitude and SparseGPT prune each tensor to the target."""
    start = time.perf_counter()
    scope = "output" if criterion == "wanda" and pattern is None else "layer"
    pruned = kerasprune.one_shot_prune(
        model, sparsity, criterion=criterion, pattern=pattern, exclude=DENSE_LAYERS,
        scope=scope, data=kerasprune.CriterionData(as_inputs(calibration), batch_size=16))
    return pruned, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=288)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--length", type=int, default=64, help="tokens per sequence")
    parser.add_argument("--steps", type=int, default=1000, help="training steps")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--calibration", type=int, default=128, help="sequences")
    parser.add_argument("--held-out", type=int, default=512, help="sequences scored")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    train_text, test_text = english_text()
    windows = sequences(train_text, args.length)
    test = sequences(test_text, args.length)[: args.held_out]
    model = build_lm(args.layers, args.hidden, args.heads, args.length)
    train(model, windows, steps=args.steps, batch_size=args.batch_size,
          learning_rate=args.learning_rate, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    calibration = windows[rng.choice(len(windows), args.calibration, replace=False)]
    result = {"parameters": model.count_params(), "dense": perplexity(model, test),
              "perplexity": {}, "seconds": {}, "sparsity": {}}
    print(f"{result['parameters']:,} parameters; dense perplexity {result['dense']:.3f}")
    for name, pattern in PATTERNS.items():
        for criterion in CRITERIA:
            pruned, seconds = prune_once(model, criterion, pattern, calibration)
            result["perplexity"][(name, criterion)] = perplexity(pruned, test)
            result["seconds"][(name, criterion)] = seconds
            result["sparsity"][(name, criterion)] = kerasprune.sparsity_report(pruned).total
    print(f"{'':10s}" + "".join(f"{c:>12s}" for c in CRITERIA))
    for name in PATTERNS:
        print(f"{name:10s}" + "".join(f"{result['perplexity'][(name, c)]:12.3f}"
                                      for c in CRITERIA))
    return result


if __name__ == "__main__":
    main()
