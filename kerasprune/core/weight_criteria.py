"""Weight criteria: one saliency per weight, which a weight pattern pools into its groups.

`kerasprune.prune(model, criterion=...)` gives every wrapper one; the selection then
prunes the groups (single weights, `Blocks`, `NM` runs) of lowest pooled saliency:

- `"magnitude"`: `|w|`.
- `"snip"`: `|w * g|`, `g` the loss gradient summed over a sample's batches
  (Lee et al. 2019): the first-order change of the loss when the weight is removed.
- `"wanda"`: `|w| * ||x_j||`, `||x_j||` the norm over the sample of the input feature
  the weight multiplies (Sun et al. 2023; the layer's linear view, im2col for
  convolutions): the size of the weight's contribution to the layer's output.
- `"obd"`: `w^2 * H_jj / 2`, Optimal Brain Damage's saliency (LeCun et al. 1990) on the
  layer-wise loss `||X W - X W'||^2`, whose Hessian is `H = 2 X^T X` (the same loss
  SparseGPT's OBS solves): its diagonal `H_jj = 2 ||x_j||^2`, without off-diagonal terms
  and without updating the weights that stay. For single weights and N:M runs it ranks
  weights as Wanda does (it is Wanda's score squared); `Blocks` pool them differently.

- `"grasp"`: `w * (H g)`, GraSP (Wang et al. 2020, pruning before training): `-w * (H g)`
  estimates how much removing the weight reduces the gradient flow `g^T g`, and GraSP
  removes the weights of largest `-w * (H g)` first, so the lowest `w * (H g)` here. Signed
  (the selection ranks signed scores; LAMP's squared scores do not suit it); `H g` from
  `kerasprune.core.gradient_flow.hessian_gradients`.
- `"synflow"`: `|w * dR/dw|`, SynFlow (Tanaka et al. 2020): data-free, `R` the sum of the
  outputs of the network with absolute weights on an input of ones. Iterative in the
  paper (100 rounds of pruning, rescoring between them): `one_shot_prune` runs those
  rounds; a gradual callback rescores at each of its updates.
- `"random"`: a fixed random order per weight tensor (from the wrapper's `seed`, the
  layer's name and the weight's index), the baseline every criterion must beat; the same
  order at every update, so masks grow along it and a resumed run prunes the same weights.

`"sparsegpt"` (layer-wise OBS with weight updates, Frantar & Alistarh 2023) is not a
per-weight score: wrappers may carry it, and `kerasprune.oneshot` prunes them.

The data comes from `kerasprune.CriterionData` under the `gradients` key of
`update_masks`: the loss gradients per batch for SNIP, `[H g]` for GraSP, `[dR/dw]` for
SynFlow (computed without data); per-feature input norms for Wanda and OBD (taken by
`kerasprune.oneshot` sequentially: each layer's through the layers pruned before it).
"""

from __future__ import annotations

import zlib

import numpy as np

#: Criteria that score each weight.
WEIGHT_CRITERIA = ("magnitude", "snip", "obd", "wanda", "grasp", "synflow", "random")
#: Every criterion a wrapper may carry.
CRITERIA = (*WEIGHT_CRITERIA, "sparsegpt")
#: What each criterion needs from a `CriterionData` (keys of `update_masks`' data).
NEEDS = {"magnitude": None, "snip": "gradients", "obd": "input_norms",
         "wanda": "input_norms", "sparsegpt": "calibration", "grasp": "gradients",
         "synflow": None, "random": None}
#: What a criterion calls its `gradients` (in error messages).
_DERIVATIVE = {"snip": "the loss gradients", "grasp": "the Hessian-gradient product H g",
               "synflow": "the SynFlow gradients dR/dw"}


def saliency(criterion: str, weight: np.ndarray, gradients: list | None = None,
             input_norms: np.ndarray | None = None, *, seed: int = 0,
             name: str = "") -> np.ndarray:
    """The saliency of every weight (the weight's shape; signed for GraSP only).

    Args:
        criterion: one of `WEIGHT_CRITERIA`.
        weight: the weight's values.
        gradients: per batch, the weight's loss gradient (SNIP), or one `H g` (GraSP), or
            one `dR/dw` (SynFlow).
        input_norms: the squared norm of each input feature over the sample, shaped to
            broadcast against the weight (Wanda, OBD; `LinearView.per_feature`).
        seed, name: the `"random"` order's seed and the weight's name (each tensor its
            own order).

    Example:

    >>> w = np.array([[2.0, -1.0], [1.0, 4.0]])
    >>> saliency("wanda", w, input_norms=np.array([[4.0], [0.25]])).tolist()
    [[4.0, 2.0], [0.5, 2.0]]
    >>> saliency("obd", w, input_norms=np.array([[4.0], [0.25]])).tolist()
    [[16.0, 4.0], [0.25, 4.0]]
    >>> saliency("grasp", w, gradients=[np.array([[1.0, 1.0], [-1.0, 0.5]])]).tolist()
    [[2.0, -1.0], [-1.0, 2.0]]
    """
    weight = np.asarray(weight)
    if criterion == "magnitude":
        return np.abs(weight)
    if criterion == "random":
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), *weight.shape])
        return rng.random(weight.shape).astype(np.float32)
    if criterion in _DERIVATIVE:
        _check_gradients(criterion, weight, gradients)
        product = weight * np.sum(gradients, axis=0)
        return product if criterion == "grasp" else np.abs(product)
    if criterion in ("wanda", "obd"):
        if input_norms is None:
            raise ValueError(
                f"The {criterion!r} criterion needs the norms of the layer's input features "
                f"on a sample of inputs. {data_advice('x')}.")
        if criterion == "wanda":
            return (np.abs(weight) * np.sqrt(input_norms)).astype(weight.dtype)
        return (np.square(weight) * input_norms).astype(weight.dtype)  # w^2 * H_jj / 2
    raise ValueError(f"`criterion` must be one of {WEIGHT_CRITERIA}. Received: "
                     f"criterion={criterion!r}")


def data_advice(sample: str) -> str:
    """How to give a criterion its data, in each entry point that takes it.

    Example:

    >>> data_advice("x")[:40]
    'Pass `data=kerasprune.CriterionData(x)` '
    """
    return (f"Pass `data=kerasprune.CriterionData({sample})` to the pruning callback or "
            f"one_shot_prune, or `**kerasprune.CriterionData({sample}).for_update(model)` to "
            "update_masks")


def _check_gradients(criterion, weight, gradients) -> None:
    if not gradients or any(np.shape(g) != weight.shape for g in gradients):
        how = ("It is computed without data by one_shot_prune and the pruning callbacks"
               if criterion == "synflow" else data_advice("x, y"))
        raise ValueError(
            f"The {criterion!r} criterion needs {_DERIVATIVE[criterion]} of the weight "
            f"(each of shape {weight.shape}). {how}."
        )
