"""Per-layer pruning scalars for TensorBoard: each pruned weight's sparsity and threshold.

`LayerSummaries(log_dir).write(model, step)` writes, for every weight a `PruneWrapper`
prunes, the scalars `sparsity/<layer>/<weight>` and (for magnitude patterns) the magnitude
threshold `threshold/<layer>/<weight>`: the smallest score still kept, 0 before anything is
pruned. The pruning callbacks call it whenever the masks change when given `log_dir`;
`kerasprune.tfmot`'s `PruningSummaries` calls it every epoch.

Event files go to `log_dir/pruning`, beside the `train`/`validation` folders of
`keras.callbacks.TensorBoard`, so both can share one `log_dir`. They are written with
TensorFlow's summary ops and the scalar plugin's metadata, so writing needs no
`tensorboard` package (viewing them does).
"""

from __future__ import annotations

import os

import numpy as np

from kerasprune.core.model_walk import prune_wrappers
from kerasprune.core.patterns import Blocks, Unstructured

SUBDIR = "pruning"


def check_log_dir(log_dir) -> str | None:
    """`log_dir` as a string, or None; refuses anything that is not a non-empty path, and a
    path that is, or lies under, a file.

    Example:

    >>> check_log_dir(None) is None
    True
    >>> check_log_dir("")
    Traceback (most recent call last):
    ...
    ValueError: `log_dir` must be a non-empty path (str or os.PathLike) or None. Received: log_dir=''
    """
    if log_dir is None:
        return None
    if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
        raise ValueError(
            "`log_dir` must be a non-empty path (str or os.PathLike) or None. "
            f"Received: log_dir={log_dir!r}"
        )
    path = os.fspath(log_dir)
    existing = path
    while existing and not os.path.exists(existing):  # the folders are made when writing
        existing = os.path.dirname(existing)
    if existing and not os.path.isdir(existing):
        raise ValueError(f"`log_dir` must be a folder (or where one can be made); {existing!r} "
                         f"is a file. Received: log_dir={log_dir!r}")
    return path


def layer_scalars(model) -> dict[str, float]:
    """`{tag: value}` of every pruned weight's sparsity and magnitude threshold.

    Example:

    >>> import keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)),
    ...                                            keras.layers.Dense(2, name="fc")]))
    >>> _ = kerasprune.update_masks(model, 0.5)
    >>> sorted(layer_scalars(model))
    ['sparsity/fc/kernel', 'threshold/fc/kernel']
    >>> layer_scalars(model)["sparsity/fc/kernel"]
    0.5
    """
    scalars = {}
    for wrapper in prune_wrappers(model):
        if wrapper.follows is not None:
            continue
        for i, (weight, mask) in enumerate(zip(wrapper.pruned_weights, wrapper.masks)):
            name = f"{wrapper.layer.name}/{weight.name}"
            mask = np.asarray(mask)
            scalars[f"sparsity/{name}"] = 1.0 - int(np.count_nonzero(mask)) / max(mask.size, 1)
            if isinstance(wrapper.pattern, (Unstructured, Blocks)):
                scalars[f"threshold/{name}"] = _threshold(wrapper.weight_pattern(i), weight,
                                                          mask)
    return scalars


def _threshold(pattern, weight, mask) -> float:
    """The smallest group score still kept (0 while nothing is pruned)."""
    scores, _ = pattern.group_scores(np.asarray(weight))
    pruned = pattern.pruned_groups(mask)
    kept = scores[~pruned]
    if not pruned.any() or not kept.size:
        return 0.0
    return float(kept.min())


class LayerSummaries:
    """Writes `layer_scalars(model)` as TensorBoard scalars under `log_dir/pruning`.

    Args:
        log_dir: the TensorBoard log folder (created if needed).

    Example:

    >>> import tempfile, keras, kerasprune
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    >>> summaries = LayerSummaries(tempfile.mkdtemp())
    >>> summaries.write(model, step=0)
    >>> summaries.close()
    """

    def __init__(self, log_dir: str):
        self.log_dir = os.path.join(check_log_dir(log_dir), SUBDIR)
        self._writer = None

    def write(self, model, step: int) -> None:
        """Write every pruned weight's scalars at `step`."""
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        metadata = _scalar_metadata()
        with self._writer.as_default():
            for tag, value in layer_scalars(model).items():
                tf.summary.write(tag, tf.constant(value, tf.float32), step=int(step),
                                 metadata=metadata)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _scalar_metadata() -> bytes:
    """The metadata TensorBoard's scalar dashboard reads (what `tf.summary.scalar` adds)."""
    import tensorflow as tf

    metadata = tf.compat.v1.SummaryMetadata(
        plugin_data=tf.compat.v1.SummaryMetadata.PluginData(plugin_name="scalars")
    )
    metadata.data_class = 1  # DATA_CLASS_SCALAR
    return metadata.SerializeToString()
