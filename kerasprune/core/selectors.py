"""Selectors: how a pruning policy chooses new masks, without writing them.

torch.nn.utils.prune's split: methods differ in how they compute a mask; applying it is
shared. Every pruning policy supplies a `Selector`; `kerasprune.core.mask_update.update`
hands it the model's pruned layers, writes what it yields and returns a record.

- `ToTarget`: each wrapper's pattern and criterion to a model-wide target, with the
  wrappers' scopes (layer, global, LAMP, ERK) and floors: GMP, IMP, BIMP, one-shot. A
  pattern whose groups span layers (coupled channels) selects for all its wrappers at
  once (`MaskPattern.select_over_model`), with the same scopes.
- `LayerTargets`: chosen wrappers, each alone to its own target: TFMOT's per-layer
  schedules, sensitivity analysis.
- `Threshold`: every group whose RMS norm fell below a threshold: penalty-based pruning.
- `DropAndRegrow`: the weights of lowest magnitude dropped, as many regrown where the
  loss gradient is largest: RigL.
"""

from __future__ import annotations

from typing import Iterator, Mapping

import numpy as np

from kerasprune.core.allocation import lamp_scores
from kerasprune.core.group_lasso import group_rms
from kerasprune.core.regrowth import drop_and_grow
from kerasprune.core.scopes import scope_sets, select_in_scope, short_parts
from kerasprune.core.selection import WeightSet
from kerasprune.core.validation import check_sparsity

#: What a selector yields: a wrapper and one new mask per pruned weight, optionally with
#: new values for those weights (methods that update the weights they keep).
Choice = tuple  # (wrapper, masks) or (wrapper, masks, values)


class Selector:
    """Base class: chooses new masks for the pruned layers of a model.

    Subclasses implement `select`, which yields `(wrapper, masks)` one wrapper at a time
    (so that a whole model's masks are never held at once) and never assigns anything.

    Example:

    >>> import numpy as np, keras, kerasprune
    >>> from kerasprune.core.mask_update import update
    >>> class KeepFirstColumn(Selector):
    ...     def select(self, model, wrappers, sparsity, final):
    ...         for w in wrappers:
    ...             mask = np.zeros(w.pruned_weights[0].shape, "float32")
    ...             mask[:, 0] = 1
    ...             yield w, [mask]
    >>> model = kerasprune.prune(keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)]))
    >>> update(model, KeepFirstColumn()).sparsity
    0.75
    """

    def select(self, model, wrappers: list, sparsity: float, final: float) -> Iterator[Choice]:
        """Yield new masks for some of `wrappers` (the model's pruned, non-follower layers)
        for the model-wide target `sparsity` (`final`: the target at the end of pruning)."""
        raise NotImplementedError


class ToTarget(Selector):
    """Each pruned weight by its pattern's criterion, to the target, in its wrapper's scope.

    Args:
        gradients: `{weight path: [gradient per batch]}` for criteria that need them.
        activations: `{weight path: ChannelActivity}` for criteria that read outputs.
        input_norms: `{weight path: squared input-feature norms}` for Wanda.
        masks_only_grow: True (GMP, IMP): what was pruned stays pruned, so a lower
            target leaves the masks as they are. False: chosen afresh (regrowth methods).
        scores: `{weight path: learned score per weight}` (any real numbers, higher =
            keep: movement scores, gate probabilities) that replace the criterion of those
            weights; pooled into the pattern's groups (`MaskPattern.learned_scores`; a
            channel's score sums its weights').
    """

    def __init__(self, *, gradients: Mapping | None = None, activations: Mapping | None = None,
                 input_norms: Mapping | None = None, masks_only_grow: bool = True,
                 scores: Mapping | None = None):
        self.gradients = gradients
        self.scores = scores
        self.activations = activations
        self.input_norms = input_norms
        self.masks_only_grow = masks_only_grow
        #: After `select`: `(what, target, reached)` for each set or layer short of its
        #: target because its pattern protects groups (`kerasprune.core.scopes.short_parts`).
        self.missed: list[tuple[str, float, float]] = []

    def select(self, model, wrappers, sparsity, final):
        self.missed = []
        joint = [w for w in wrappers if w.pattern.selects_over_model]
        if joint:
            yield from joint[0].pattern.select_over_model(model, joint, sparsity, final, self)
        alone = [w for w in wrappers if not w.pattern.selects_over_model]
        for scope, members, target in scope_sets(alone, sparsity, final):
            weight_set = WeightSet(members, self.gradients, activations=self.activations,
                                   input_norms=self.input_norms,
                                   masks_only_grow=self.masks_only_grow, scores=self.scores,
                                   transform=lamp_scores if scope == "lamp" else None)
            pruned = select_in_scope(weight_set, scope, target)
            for part, reached in short_parts(weight_set, pruned, scope, target):
                names = [f"{w.layer.name}/{w.pruned_weights[i].name}" for w, i in (
                    weight_set.tensors if part < 0 else [weight_set.tensors[part]])]
                self.missed.append((", ".join(names), target, reached))
            weight_set.release_scores()
            yield from weight_set.masks(pruned)


class LayerTargets(Selector):
    """Some wrappers, each pruned alone to its own target (the others stay as they are).

    Args:
        targets: `{PruneWrapper: sparsity in [0, 1)}`.
        gradients, activations, input_norms: as for `ToTarget`.
    """

    def __init__(self, targets: Mapping, *, gradients: Mapping | None = None,
                 activations: Mapping | None = None, input_norms: Mapping | None = None):
        self.targets = {w: check_sparsity("sparsity", t) for w, t in targets.items()}
        self.gradients = gradients
        self.activations = activations
        self.input_norms = input_norms

    def select(self, model, wrappers, sparsity, final):
        for wrapper, target in self.targets.items():
            weight_set = WeightSet([wrapper], self.gradients, activations=self.activations,
                                   input_norms=self.input_norms)
            yield from weight_set.masks(select_in_scope(weight_set, "layer", target))


class Threshold(Selector):
    """Every live group whose RMS norm `||w_g|| / sqrt(|g|)` is below `threshold` is pruned;
    each weight keeps its largest group, so no layer is emptied. Under a channel pattern the
    kernel's channels decide and the bias loses exactly those."""

    def __init__(self, threshold: float):
        self.threshold = float(threshold)

    def select(self, model, wrappers, sparsity, final):
        for wrapper in wrappers:
            masks = [self._mask(wrapper.weight_pattern(i), np.asarray(v), np.asarray(m))
                     for i, (v, m) in enumerate(zip(wrapper.pruned_weights, wrapper.masks))]
            if getattr(wrapper.pattern, "prunes_channels", False):
                masks = self._channels_of_kernel(wrapper, masks[0])
            yield wrapper, masks

    @staticmethod
    def _channels_of_kernel(wrapper, kernel_mask: np.ndarray) -> list[np.ndarray]:
        """The kernel's channels decide; every other pruned weight (the bias) follows them,
        as in `ToTarget`: a bias is not thresholded on its own magnitude."""
        kept = ~wrapper.pattern.pruned_groups(kernel_mask)
        return [kernel_mask] + [
            (np.asarray(m) * wrapper.pattern.expand(kept, tuple(m.shape))).astype(m.dtype)
            for m in wrapper.masks[1:]]

    def _mask(self, pattern, weight: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rms, ids = group_rms(pattern, weight)
        dead = rms < self.threshold
        dead[np.argmax(rms)] = False
        return np.where(dead[ids], 0, mask).astype(mask.dtype)


class DropAndRegrow(Selector):
    """In every pruned weight, `fraction` of the live groups of lowest magnitude dropped and
    as many dead groups regrown where the dense loss gradient is largest (RigL).

    Args:
        fraction: the fraction of live groups moved, in [0, 1].
        gradients: `{weight path: [gradient per batch]}` of every pruned weight.

    Attributes:
        regrown: after `select` ran, the number of weights regrown that were dead before.
    """

    def __init__(self, fraction: float, gradients: Mapping):
        self.fraction = float(fraction)
        self.gradients = gradients
        self.regrown = 0

    def select(self, model, wrappers, sparsity, final):
        self.regrown = 0
        for wrapper in wrappers:
            masks = []
            for i, (weight, mask) in enumerate(zip(wrapper.pruned_weights, wrapper.masks)):
                gradient = np.sum(self.gradients[weight.path], axis=0)
                new, moved = drop_and_grow(wrapper.weight_pattern(i), np.asarray(weight),
                                           np.asarray(mask), gradient, self.fraction)
                masks.append(new)
                self.regrown += moved
            yield wrapper, masks
