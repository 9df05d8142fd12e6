"""`PruningSummaries`: TFMOT's TensorBoard callback with per-layer pruning scalars."""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.callbacks.layer_summaries import LayerSummaries


class PruningSummaries(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` plus each pruned weight's sparsity and threshold.

    At the start of every epoch it writes `sparsity/<layer>/<weight>` and
    `threshold/<layer>/<weight>` into `log_dir/pruning`, at the optimizer's step, beside
    what `keras.callbacks.TensorBoard` writes (needs the `tensorboard` package, like it).

    Args:
        log_dir: the TensorBoard log folder.
        update_freq: as for `keras.callbacks.TensorBoard` (default `"epoch"`).
        **kwargs: passed to `keras.callbacks.TensorBoard`.

    Example:

    callbacks = [tfmot.sparsity.keras.UpdatePruningStep(),
                 tfmot.sparsity.keras.PruningSummaries(log_dir="logs")]
    """

    def __init__(self, log_dir, update_freq="epoch", **kwargs):
        if not isinstance(log_dir, str) or not log_dir:
            raise ValueError(f"`log_dir` must be a non-empty string. Received: log_dir={log_dir!r}")
        super().__init__(log_dir=log_dir, update_freq=update_freq, **kwargs)
        self.pruning_summaries = LayerSummaries(log_dir)

    def on_epoch_begin(self, epoch, logs=None):
        if logs is not None:
            super().on_epoch_begin(epoch, logs)
        optimizer = getattr(self.model, "optimizer", None)
        step = int(np.asarray(optimizer.iterations)) if optimizer is not None else 0
        self.pruning_summaries.write(self.model, step)

    def on_train_end(self, logs=None):
        super().on_train_end(logs)
        self.pruning_summaries.close()
