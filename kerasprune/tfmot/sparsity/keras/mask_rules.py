"""TFMOT's mask rules as kerasprune patterns: which weights TFMOT keeps at a sparsity.

TFMOT (`pruning_impl.py`) keeps, of a weight tensor of `n` weights at sparsity `s`, the
`k = max(round(n * (1 - s)), 1)` largest magnitudes, computed in float32 with ties to even
(so at 0.5 it prunes 13 of 25 weights), and with them every weight equal to the k-th
(a tensor of zeros keeps everything). With `block_size` it does the same on the blocks'
pooled magnitudes, counting blocks, edge blocks included; with `sparsity_m_by_n=(m, n)` it
keeps the `n - m` largest of every `n` consecutive input weights, a shorter last run
padded with zeros.

Each rule below is a `MaskPattern` (plain magnitudes, like kerasprune's own) that also says
which of its groups TFMOT keeps at a sparsity (`kept`). `TFMOTMasks` is the selector that
turns a schedule's targets into those masks (what was pruned stays pruned); kerasprune's
mask update writes them.
"""

from __future__ import annotations

import keras
import numpy as np

from kerasprune.core.patterns import Blocks, MaskPattern, Unstructured
from kerasprune.core.selectors import Selector
from kerasprune.tfmot.sparsity.keras.pruning_utils import rows_for_m_by_n


def kept_count(groups: int, sparsity: float) -> int:
    """TFMOT's number of groups kept: `max(round(groups * (1 - sparsity)), 1)` in float32.

    Example:

    >>> kept_count(25, 0.5), kept_count(10, 0.95)
    (12, 1)
    """
    kept = np.rint(np.float32(groups) * (np.float32(1.0) - np.float32(sparsity)))
    return max(int(kept), 1)


def threshold_of(scores: np.ndarray, sparsity: float) -> float:
    """TFMOT's threshold: the k-th largest score (`kept_count`); TFMOT keeps `>=` it.

    Example:

    >>> threshold_of(np.array([0.1, 0.4, 0.3, 0.2]), 0.5)
    0.3
    """
    scores = np.asarray(scores).ravel()
    k = kept_count(scores.size, sparsity)
    return float(np.partition(scores, scores.size - k)[scores.size - k])


class TFMOTMasks(Selector):
    """The masks TFMOT computes for some wrappers, each at its own sparsity.

    Args:
        targets: `{PruneLowMagnitude: sparsity}`.

    Example:

    >>> import keras
    >>> import kerasprune.tfmot as tfmot
    >>> from kerasprune.core.mask_update import write_masks
    >>> wrapper = tfmot.sparsity.keras.prune_low_magnitude(keras.layers.Dense(1))
    >>> wrapper.build((None, 25))
    >>> _ = write_masks(TFMOTMasks({wrapper: 0.5}).select(None, [wrapper], 0.0, 0.0))
    >>> int(wrapper.masks[0].numpy().sum())  # TFMOT keeps round(25 * 0.5) = 12
    12
    """

    def __init__(self, targets: dict):
        self.targets = dict(targets)

    def select(self, model, wrappers, sparsity, final):
        for wrapper, target in self.targets.items():
            pattern = wrapper.pattern
            yield wrapper, [
                np.asarray(mask) * pattern.expand(pattern.kept(np.asarray(weight), target),
                                                  tuple(weight.shape)).astype(mask.dtype)
                for weight, mask in zip(wrapper.pruned_weights, wrapper.masks)]


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class MagnitudeMask(Unstructured):
    """TFMOT's element-wise rule (`block_size=(1, 1)`).

    Example:

    >>> MagnitudeMask().kept(np.array([0.1, -0.4, 0.3, 0.2]), 0.5).tolist()
    [False, True, True, False]
    """

    def kept(self, weight: np.ndarray, sparsity: float) -> np.ndarray:
        """The groups TFMOT keeps at `sparsity`: those at least its threshold."""
        scores = self.group_scores(weight)[0]
        return scores >= threshold_of(scores, sparsity)

    def get_config(self):
        return {}

    def __repr__(self) -> str:
        return "MagnitudeMask()"


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class BlockMask(Blocks):
    """TFMOT's block rule on a rank-2 weight: blocks scored by the average (or max)
    magnitude, each block counting as one (edge blocks too).

    TFMOT pools with TensorFlow's `SAME` padding, which splits the padding of a dimension
    the block does not divide between both ends, while its mask tiles blocks from index
    0; the scores here are those pooled values, so the masks are TFMOT's.

    Example:

    >>> rule = BlockMask((3, 1))  # 4 rows: windows [-1, 2) and [2, 5), blocks [0, 3) and [3, 4)
    >>> rule.group_scores(np.array([[1.0], [3.0], [5.0], [7.0]]))[0].tolist()
    [2.0, 6.0]
    """

    def __init__(self, block_shape, pooling: str = "mean"):
        super().__init__(block_shape, pooling)

    def check_shape(self, shape):
        if len(shape) != 2:
            raise ValueError(
                "Block sparsity (`block_size` other than (1, 1)) applies to 2-dimensional "
                f"weights only, as in TFMOT. Received: a weight of shape {tuple(shape)}"
            )

    def group_scores(self, weight, gradients=None, activations=None):
        pooled = _same_pool(np.abs(np.asarray(weight)), self.block_shape, self.pooling).ravel()
        sizes = np.broadcast_to(np.int64(1), pooled.shape)  # TFMOT counts blocks
        return pooled, sizes

    def kept(self, weight: np.ndarray, sparsity: float) -> np.ndarray:
        """The blocks TFMOT keeps at `sparsity`: those at least its threshold."""
        scores = self.group_scores(weight)[0]
        return scores >= threshold_of(scores, sparsity)

    def pruned_groups(self, mask):
        # A mask's blocks are tiled from index 0, unlike the pooling windows above.
        return Blocks(self.block_shape).group_scores(np.asarray(mask))[0] == 0

    def __repr__(self) -> str:
        return f"BlockMask({self.block_shape}, pooling={self.pooling!r})"


def _same_pool(values: np.ndarray, block: tuple[int, int], pooling: str) -> np.ndarray:
    """TensorFlow's `tf.nn.pool(..., padding="SAME", strides=block)` on a 2-D array: the
    padding is split `before = total // 2`, and averages count only real entries."""
    for axis, (size, width) in enumerate(zip(values.shape, block)):
        starts = _window_starts(size, width)
        if pooling == "max":
            values = np.maximum.reduceat(values, starts, axis=axis)
        else:
            lengths = np.diff(np.append(starts, size))
            shape = [1, 1]
            shape[axis] = lengths.size
            sums = np.add.reduceat(values, starts, axis=axis)
            values = (sums / lengths.reshape(shape)).astype(sums.dtype)
    return values


def _window_starts(size: int, width: int) -> np.ndarray:
    """Where each pooling window starts once clipped to the array (they tile it)."""
    count = -(-size // width)
    before = max((count - 1) * width + width - size, 0) // 2
    return np.maximum(np.arange(count) * width - before, 0)


@keras.saving.register_keras_serializable(package="kerasprune.tfmot")
class MByNMask(MaskPattern):
    """TFMOT's `sparsity_m_by_n=(m, n)`: `m` zeros in every `n` consecutive input weights
    of a Dense (rank 2) or Conv2D (rank 4) kernel; a shorter last run is padded with zeros,
    so it keeps at most `n - m` of its weights (7 inputs at 2:4: 3 zeros per column).

    Example:

    >>> MByNMask(2, 4).kept(np.array([[4.0], [-1.0], [3.0], [0.5]]), 0.5).tolist()
    [True, False, True, False]
    """

    def __init__(self, m: int = 2, n: int = 4):
        self.m, self.n = int(m), int(n)

    def check_shape(self, shape):
        if len(shape) not in (2, 4):
            raise ValueError(
                "m-by-n sparsity applies to rank-2 (Dense) and rank-4 (Conv2D) kernels.")

    def group_scores(self, weight, gradients=None, activations=None):
        weight = np.asarray(weight)
        scores = np.abs(weight).ravel()
        sizes = np.broadcast_to(np.int64(1), scores.shape)
        return scores, sizes

    def kept(self, weight: np.ndarray, sparsity: float | None = None) -> np.ndarray:
        """TFMOT's m-by-n mask of `weight` as booleans, one per weight (the sparsity is
        the pattern's own)."""
        rows = np.abs(rows_for_m_by_n(weight))
        runs = -(-rows.shape[1] // self.n)
        padded = np.zeros((rows.shape[0], runs * self.n), dtype=rows.dtype)
        padded[:, : rows.shape[1]] = rows
        grouped = padded.reshape(-1, self.n)
        # Largest first, ties to the lower index (TensorFlow's top_k).
        order = np.argsort(-grouped, axis=1, kind="stable")
        keep = np.zeros(grouped.shape, dtype=bool)
        np.put_along_axis(keep, order[:, : self.n - self.m], True, axis=1)
        keep = keep.reshape(padded.shape)[:, : rows.shape[1]]
        if weight.ndim == 2:
            return keep.T.ravel()
        h, w, c_in, c_out = weight.shape
        return np.transpose(keep.reshape(c_out, h, w, c_in), (1, 2, 3, 0)).ravel()

    def pruned_groups(self, mask):
        return np.asarray(mask).ravel() == 0

    def expand(self, keep, shape):
        return keep.reshape(shape).astype(np.float32)

    def get_config(self):
        return {"m": self.m, "n": self.n}

    def __repr__(self) -> str:
        return f"MByNMask({self.m}, {self.n})"
