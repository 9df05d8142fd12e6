"""`MaskConstraint`: how a mask is applied to its weight after every optimizer step.

A pruning mask is hard because it is part of the weight's Keras constraint, which the
optimizer applies right after each update; `apply_mask` is the one place where a weight
and its mask are multiplied.
"""

from __future__ import annotations

import keras

from kerasprune import _compat


def apply_mask(weight, mask):
    """The pruned weight: `weight * mask`. The one place where a mask is applied.

    A narrow (uint8) mask is cast to the weight's dtype first.
    """
    dtype = keras.backend.standardize_dtype(weight.dtype)
    if keras.backend.standardize_dtype(mask.dtype) != dtype:
        mask = keras.ops.cast(mask, dtype)
    return weight * mask


class MaskConstraint:
    """Variable constraint: the user's own constraint (if any), then the mask.

    On JAX the optimizer runs statelessly with the model's trainable and the optimizer's
    variables only, so the mask (non-trainable) cannot be read there: the wrapper hands
    the constraint the mask's value of the same traced train step (`traced_mask`).
    """

    def __init__(self, mask, inner=None):
        self.mask = mask
        self.inner = inner
        self.traced_mask = None

    def __call__(self, weight):
        if self.inner is not None:
            weight = self.inner(weight)
        return apply_mask(weight, self._mask_value())

    def _mask_value(self):
        if self.traced_mask is None or not _compat.in_stateless_scope():
            return self.mask
        value = _compat.scoped_value(self.mask)
        return self.traced_mask if value is None else value
