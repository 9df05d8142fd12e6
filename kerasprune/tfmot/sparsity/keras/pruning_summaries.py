"""`PruningSummaries`: TFMOT's TensorBoard callback with per-layer pruning scalars."""

from __future__ import annotations

import os

import keras
import numpy as np

from kerasprune.core.validation import is_int
from kerasprune.tfmot.sparsity.keras.pruning_wrapper import collect_prunable_layers


class PruningSummaries(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` plus each pruned weight's sparsity and threshold.

    At the start of every epoch it writes, as TFMOT does, `<wrapper>/mask:0/sparsity` and
    `<wrapper>/threshold:0/threshold` (`mask_1:0`, ... for a layer's further weights, which
    TFMOT writes under the same tag) into `log_dir/metrics`, at the optimizer's step,
    beside what `keras.callbacks.TensorBoard` writes (it needs the `tensorboard` package).

    Args:
        log_dir: the TensorBoard log folder (a string or a `pathlib.Path`).
        update_freq: as for `keras.callbacks.TensorBoard` (default `"epoch"`).
        **kwargs: passed to `keras.callbacks.TensorBoard`.

    Example:

    callbacks = [tfmot.sparsity.keras.UpdatePruningStep(),
                 tfmot.sparsity.keras.PruningSummaries(log_dir="logs")]
    """

    def __init__(self, log_dir, update_freq="epoch", **kwargs):
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ValueError("`log_dir` must be a non-empty string or path. "
                             f"Received: log_dir={log_dir!r}")
        log_dir = os.fspath(log_dir)
        if not (isinstance(update_freq, str) and update_freq in ("epoch", "batch")) and not (
                is_int(update_freq) and update_freq >= 1):
            raise ValueError("`update_freq` must be 'epoch', 'batch' or an int number of "
                             f"batches >= 1. Received: update_freq={update_freq!r}")
        super().__init__(log_dir=log_dir, update_freq=update_freq, **kwargs)
        self._metrics_writer = None

    def on_epoch_begin(self, epoch, logs=None):
        if logs is not None:
            super().on_epoch_begin(epoch, logs)
        import tensorflow as tf

        if self._metrics_writer is None:
            self._metrics_writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, "metrics"))
        optimizer = getattr(self.model, "optimizer", None)
        step = int(np.asarray(optimizer.iterations)) if optimizer is not None else 0
        with self._metrics_writer.as_default():
            for tag, value in pruning_scalars(self.model).items():
                tf.summary.scalar(tag, value, step=step)
        self._metrics_writer.flush()

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        if self._metrics_writer is not None:
            self._metrics_writer.close()
            self._metrics_writer = None


def pruning_scalars(model) -> dict[str, float]:
    """TFMOT's summary tags and values: each mask's sparsity, each threshold.

    Example:

    >>> import keras
    >>> import kerasprune.tfmot as tfmot
    >>> model = tfmot.sparsity.keras.prune_low_magnitude(
    ...     keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="fc")]))
    >>> sorted(pruning_scalars(model))
    ['prune_low_magnitude_fc/mask:0/sparsity', 'prune_low_magnitude_fc/threshold:0/threshold']
    """
    sparsities, thresholds = {}, {}
    for wrapper in collect_prunable_layers(model):
        for i, (_, mask, threshold) in enumerate(wrapper.pruning_vars):
            suffix = f"_{i}" if i else ""
            mask = np.asarray(mask)
            sparsities[f"{wrapper.name}/mask{suffix}:0/sparsity"] = float(
                1.0 - np.count_nonzero(mask) / max(mask.size, 1))
            thresholds[f"{wrapper.name}/threshold{suffix}:0/threshold"] = float(
                np.asarray(threshold))
    return {**sparsities, **thresholds}
