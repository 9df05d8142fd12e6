"""Prune a KerasHub text classifier (BERT from a config, no download) with GMP in `fit`.

Trains a small `keras_hub.models.BertTextClassifier` (its tokenizer's vocabulary built
from the data) on real sentences: Python standard-library docstrings labelled "numbers" or
"files and the system" (`examples.datasets.load_docstring_topics`). Then prunes its
encoder (attention and feed-forward kernels) and head with `PruningCallback`, prints the
per-layer sparsity, strips the wrappers and saves a plain `.keras` file that loads back
with its preprocessor.

    python -m examples.kerashub_text
    python -m examples.kerashub_text --layers 1 --hidden 16 --dense-epochs 1   # tiny
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
from examples import datasets  # noqa: E402

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SEQUENCE_LENGTH = 32


def vocabulary(texts, min_count: int = 2) -> list[str]:
    """BERT's special tokens, then the words seen at least `min_count` times (lowercase)."""
    counts = Counter(w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower()))
    return SPECIAL_TOKENS + sorted(w for w, n in counts.items() if n >= min_count)


def build_classifier(vocab: list[str], layers: int, hidden: int) -> keras.Model:
    """A BERT classifier from a config: tokenizer, preprocessor, backbone and head."""
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=SEQUENCE_LENGTH)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocab), num_layers=layers, num_heads=2, hidden_dim=hidden,
        intermediate_dim=2 * hidden, max_sequence_length=SEQUENCE_LENGTH)
    return keras_hub.models.BertTextClassifier(backbone, num_classes=2,
                                               preprocessor=preprocessor)


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def accuracy(model: keras.Model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=2, help="transformer layers")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size")
    parser.add_argument("--dense-epochs", type=int, default=8)
    parser.add_argument("--pruning-epochs", type=int, default=4)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--output-dir", default="out")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = datasets.load_docstring_topics(seed=args.seed)
    vocab = vocabulary(x_train)
    print(f"Data: {len(x_train)} train / {len(x_test)} test docstring sentences, "
          f"{len(vocab)} tokens; majority class {max(np.mean(y_test), 1 - np.mean(y_test)):.1%}")

    dense = compile_model(build_classifier(vocab, args.layers, args.hidden), 1e-3)
    dense.fit(x_train, y_train, epochs=args.dense_epochs, batch_size=32, verbose=0)
    dense_accuracy = accuracy(dense, x_test, y_test)

    # The encoder and the head; the embedding tables stay dense, as in BERT pruning papers.
    pruned = compile_model(kerasprune.prune(dense, exclude=".*_embedding"), 5e-4)
    gmp = kerasprune.PruningCallback(args.sparsity, stabilization_epochs=0,
                                     pruning_epochs=args.pruning_epochs,
                                     finetune_epochs=args.finetune_epochs)
    pruned.fit(x_train, y_train, epochs=gmp.total_epochs, batch_size=32, callbacks=[gmp],
               verbose=2)
    pruned_accuracy = accuracy(pruned, x_test, y_test)
    report = kerasprune.sparsity_report(pruned)
    print(f"\nAccuracy: dense {dense_accuracy:.1%}, pruned {pruned_accuracy:.1%}\n")
    print(report)

    plain = kerasprune.strip(pruned)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    plain.save(out / "bert_pruned.keras")
    print(f"\nSaved {out / 'bert_pruned.keras'} ({type(plain).__name__}, no kerasprune objects)")
    return {"dense_accuracy": dense_accuracy, "pruned_accuracy": pruned_accuracy,
            "sparsity": report.total, "path": out / "bert_pruned.keras",
            "x_test": x_test, "pruned": pruned}


if __name__ == "__main__":
    main()
