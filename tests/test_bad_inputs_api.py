"""Bad inputs to kerasprune's API, one row each: refused before any state changes.

See `tests/bad_inputs.py` for what every row must show.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune
import kerasprune.tfmot as tfmot
from kerasprune import (
    NM,
    BIMPCallback,
    Blocks,
    Channels,
    ConstantSparsity,
    CriterionData,
    IMPCallback,
    PenaltyPruningCallback,
    PolynomialDecay,
    PruneWrapper,
    PruningCallback,
    RigLCallback,
)
from kerasprune.callbacks.distillation import Distillation
from kerasprune.core.group_lasso import GroupLasso
from kerasprune.core.sparsity_schedules import CycleSparsity, cycle_sparsities
from kerasprune.core.wrapping import UnprunableLayerWarning
from kerasprune.quantization import calibrate, quantize_model
from kerasprune.retrain import ALLR, LLR, LRW, SLR, allr_d1  # noqa: F401
from kerasprune.recipe import Recipe
from tflite_export import LatencyTable
from tests.bad_inputs import (GMP, IMP, X, Y, Tiny, check_refused, compiled, ctx, fit,  # noqa: F401
                              fit_generator, plain)

V, T, W = ValueError, TypeError, UserWarning
S = tfmot.sparsity.keras
RECIPE = ("method: gmp\ncallback: {target_sparsity: 0.5, stabilization_epochs: 0, "
          "pruning_epochs: 1, finetune_epochs: 0}\n")
O = kerasprune.one_shot_prune
P = kerasprune.prune
U = kerasprune.update_masks


def two_dense() -> keras.Model:
    """Two Dense layers and nothing else."""
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(6), keras.layers.Dense(3)])


def two_dense_inputs() -> keras.Model:
    """Two model inputs (widths 3 and 5), each read by a Dense layer of its own."""
    a, b = keras.Input((3,)), keras.Input((5,))
    merged = keras.layers.Concatenate()([keras.layers.Dense(4)(a), keras.layers.Dense(4)(b)])
    return keras.Model([a, b], keras.layers.Dense(2)(merged))


def two_inputs() -> keras.Model:
    """Two model inputs merged by the first layer that reads them."""
    a, b = keras.Input((3,)), keras.Input((5,))
    merged = keras.layers.Concatenate(name="both")([a, b])
    return keras.Model([a, b], keras.layers.Dense(2)(merged))


# (id, call, what it raises or warns, pattern of the message)
CASES = [
    # prune
    ("prune/model=str", lambda c: P("model.keras"), T, r"`model` must be a keras.Model"),
    ("prune/model=None", lambda c: P(None), T, r"`model` must be a keras.Model"),
    ("prune/unbuilt", lambda c: P(c["unbuilt"]), V, r"`model` must be a built model"),
    ("prune/scope", lambda c: P(c["plain"], scope="model"), V, r"`scope` must be one of"),
    ("prune/scope=None", lambda c: P(c["plain"], scope=None), V, r"`scope` must be one of"),
    ("prune/layers typo", lambda c: P(c["plain"], layers=["d1", "typo"]), V,
     r"`layers` holds 'typo', which matches no layer.*\['d1', 'drop', 'd2'\]"),
    ("prune/exclude case", lambda c: P(c["plain"], exclude=["D1"]), V,
     r"`exclude` holds 'D1', which matches no layer.*'d1'"),
    ("prune/layers=[]", lambda c: P(c["plain"], layers=[]), T, r"`layers` must be"),
    ("prune/layers=3", lambda c: P(c["plain"], layers=3), T, r"`layers` must be"),
    ("prune/exclude=[3]", lambda c: P(c["plain"], exclude=[3]), T, r"`exclude` must be"),
    ("prune/layers regex", lambda c: P(c["plain"], layers=["("]), V,
     r"`layers` holds an invalid regular expression"),
    ("prune/exclude all", lambda c: P(c["plain"], exclude=["d1", "d2"]), V,
     r"No prunable layer was selected.*`layers` and `exclude`"),
    ("prune/callable none", lambda c: P(c["plain"], layers=lambda layer: False), V,
     r"No prunable layer was selected"),
    ("prune/layers=dropout", lambda c: P(c["plain"], layers=["drop"]), V,
     r"'drop' of type Dropout was named in `layers`"),
    ("prune/override 1.0", lambda c: P(c["plain"], sparsity_overrides={"d1": 1.0}), V,
     r"`sparsity_overrides\['d1'\]` must be a sparsity in \[0, 1\)"),
    ("prune/override -0.1", lambda c: P(c["plain"], sparsity_overrides={"d1": -0.1}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override nan", lambda c: P(c["plain"], sparsity_overrides={"d1": np.nan}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override -1x", lambda c: P(c["plain"], sparsity_overrides={"d1": "-1x"}), V,
     r"`sparsity_overrides\['d1'\]` must be .*'Nx' with N a finite number >= 0"),
    ("prune/override abc", lambda c: P(c["plain"], sparsity_overrides={"d1": "abc"}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override nanx", lambda c: P(c["plain"], sparsity_overrides={"d1": "nanx"}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override infx", lambda c: P(c["plain"], sparsity_overrides={"d1": "infx"}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override bool", lambda c: P(c["plain"], sparsity_overrides={"d1": True}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override None", lambda c: P(c["plain"], sparsity_overrides={"d1": None}), V,
     r"`sparsity_overrides\['d1'\]` must be"),
    ("prune/override layer", lambda c: P(c["plain"], sparsity_overrides={"typo": 0.5}), V,
     r"`sparsity_overrides` names layer 'typo', which is not pruned"),
    ("prune/overrides list", lambda c: P(c["plain"], sparsity_overrides=[("d1", .5)]), T,
     r"`sparsity_overrides` must be a dict"),
    ("prune/block 0", lambda c: P(c["plain"], block_shape=(0, 1)), V, r"`block_shape` must be"),
    ("prune/block str", lambda c: P(c["plain"], block_shape="4x1"), V, r"`block_shape` must be"),
    ("prune/block rank", lambda c: P(c["plain"], block_shape=(1, 1, 4)), V,
     r"Layer 'd1' cannot be pruned with `pattern`=Blocks\(\(1, 1, 4\)\)"),
    ("prune/both patterns", lambda c: P(c["plain"], block_shape=(4, 1),
                                        pattern=kerasprune.Unstructured()), V,
     r"at most one of `block_shape` and `pattern`"),
    ("prune/pattern str", lambda c: P(c["plain"], pattern="blocks"), T, r"`pattern` must be"),
    ("prune/NM width", lambda c: P(c["plain"], pattern=NM(2, 4)), V,
     r"Layer 'd2' cannot be pruned with `pattern`=NM\(2, 4\).*multiple of 4"),
    ("prune/twice", lambda c: P(c["pruned"]), V, r"already pruning-ready"),
    ("prune/custom named", lambda c: P(c["gain"], layers=["gain"]), V,
     r"Layer 'gain' of type Gain was named in `layers` but kerasprune does not know"),
    ("prune/custom alone", lambda c: P(c["gain_alone"]), V, r"No prunable layer was selected"),
    ("prune/custom warns", lambda c: P(c["gain"]), UnprunableLayerWarning,
     r"left dense because kerasprune does not know how to prune them: \['gain'\]"),
    ("prune/unknown kwarg", lambda c: P(c["plain"], target=0.5), T, r"'target'"),
    # strip, one_shot_prune, sparsity_report, register_prunable
    ("strip/model", lambda c: kerasprune.strip("x"), T, r"`model` must be a keras.Model"),
    ("strip/unbuilt", lambda c: kerasprune.strip(c["unbuilt"]), V, r"`model` must be a built"),
    ("one_shot/1.0", lambda c: kerasprune.one_shot_prune(c["plain"], 1.0), V,
     r"`sparsity` must be a float in \[0, 1\)"),
    ("one_shot/str", lambda c: kerasprune.one_shot_prune(c["plain"], "half"), V, r"`sparsity`"),
    ("one_shot/model", lambda c: kerasprune.one_shot_prune("x", .5), T, r"`model` must be"),
    ("one_shot/scope", lambda c: kerasprune.one_shot_prune(c["plain"], .5, scope="local"), V,
     r"`scope` must be one of"),
    ("one_shot/options", lambda c: kerasprune.one_shot_prune(c["pruned"], .5, block_shape=(4, 1)),
     V, r"already pruning-ready.*\['block_shape'\]"),
    ("one_shot/layers", lambda c: kerasprune.one_shot_prune(c["plain"], .5, layers=["x"]), V,
     r"`layers` holds 'x'"),
    ("report/model", lambda c: kerasprune.sparsity_report("x"), T, r"`model` must be"),
    ("report/unbuilt", lambda c: kerasprune.sparsity_report(c["unbuilt"]), V, r"built model"),
    ("register/class", lambda c: kerasprune.register_prunable(int, ["kernel"]), T,
     r"`layer_class` must be a subclass"),
    ("register/names", lambda c: kerasprune.register_prunable(keras.layers.Dense, "kernel"), T,
     r"`weight_names` must be a non-empty list"),
    # update_masks
    ("update/str", lambda c: U(c["pruned"], "0.9"), V, r"`sparsity` must be a float in \[0, 1\)"),
    ("update/None", lambda c: U(c["pruned"], None), V, r"`sparsity` must be a float"),
    ("update/1.0", lambda c: U(c["pruned"], 1.0), V, r"Received: sparsity=1.0"),
    ("update/-0.1", lambda c: U(c["pruned"], -0.1), V, r"`sparsity` must be"),
    ("update/nan", lambda c: U(c["pruned"], np.nan), V, r"`sparsity` must be"),
    ("update/inf", lambda c: U(c["pruned"], np.inf), V, r"`sparsity` must be"),
    ("update/bool", lambda c: U(c["pruned"], True), V, r"`sparsity` must be"),
    ("update/list", lambda c: U(c["pruned"], [0.5]), V, r"`sparsity` must be"),
    ("update/model str", lambda c: U("x", .5), T, r"`model` must be a keras.Model"),
    ("update/not pruned", lambda c: U(c["plain"], .5), V, r"no PruneWrapper layers"),
    ("update/final 1.0", lambda c: U(c["pruned"], .5, final_sparsity=1.0), V,
     r"`final_sparsity` must be a float in \[0, 1\)"),
    ("update/final below", lambda c: U(c["pruned"], .9, final_sparsity=.3), V,
     r"`final_sparsity` .* must be >= `sparsity`"),
    ("update/final nan", lambda c: U(c["pruned"], .5, final_sparsity=np.nan), V,
     r"`final_sparsity` must be"),
    ("update/gradients", lambda c: U(c["pruned"], .5, gradients=[1.0]), T,
     r"`gradients` must be a dict"),
    ("update/gradients key", lambda c: U(c["pruned"], .5, gradients={"nosuch": [X]}), V,
     r"`gradients` has keys \['nosuch'\], which are not weight paths of the model: "
     r"\['[^']*d1/kernel'"),
    ("update/input_norms key", lambda c: U(c["pruned"], .5, input_norms={"d1": X}), V,
     r"`input_norms` has keys \['d1'\], which are not weight paths"),
    ("update/2x to 100%", lambda c: U(c["doubled"], .9), V,
     r"Layer 'd1' would be pruned to 100% or more: its `sparsity_scale` 2.0"),
    ("update/nan weights", lambda c: U(c["nan"], .5), V,
     r"Layer 'd1' has 6 NaN/Inf values in its weight 'kernel'"),
    ("update/unbuilt wrapper", lambda c: U(Tiny(), .5), V, r"not built yet"),
    ("update/follower", lambda c: U(c["follower"], .5), V,
     r"follows layer 'missing', which is not pruned in this model. Pruned layers: \['dd'\]"),
    # PruneWrapper and patterns
    ("wrapper/layer str", lambda c: PruneWrapper("dense"), T, r"`layer` must be a keras"),
    ("wrapper/flatten", lambda c: PruneWrapper(keras.layers.Flatten()), V,
     r"has no known prunable weights"),
    ("wrapper/model", lambda c: PruneWrapper(c["plain"]), T, r"`layer` must be a single layer"),
    ("wrapper/twice", lambda c: PruneWrapper(c["pruned"].layers[0]), V, r"wrap it only once"),
    ("wrapper/scope", lambda c: PruneWrapper(keras.layers.Dense(2), scope="x"), V, r"`scope`"),
    ("wrapper/output scope N:M", lambda c: PruneWrapper(keras.layers.Dense(2), scope="output",
                                                        pattern=kerasprune.NM(2, 4)), V,
     r"`scope='output'` .* needs `pattern=kerasprune.Unstructured\(\)`.* Received: pattern=NM"),
    ("prune/output scope channels", lambda c: P(c["plain"], scope="output",
                                                pattern=kerasprune.Channels()), V,
     r"`scope='output'` .* Received: pattern=Channels"),
    ("one_shot/output scope sparsegpt", lambda c: kerasprune.one_shot_prune(
        c["plain"], .5, scope="output", criterion="sparsegpt", data=(np.ones((4, 8)),)), V,
     r"give scope='layer' .* Received: scope='output', criterion='sparsegpt'"),
    ("wrapper/override 1", lambda c: PruneWrapper(keras.layers.Dense(2), sparsity_override=1.0),
     V, r"`sparsity_override` must be a float in \[0, 1\)"),
    ("wrapper/override nan", lambda c: PruneWrapper(keras.layers.Dense(2),
                                                    sparsity_override=np.nan), V,
     r"`sparsity_override`"),
    ("wrapper/scale -1", lambda c: PruneWrapper(keras.layers.Dense(2), sparsity_scale=-1), V,
     r"`sparsity_scale` must be a finite float >= 0"),
    ("wrapper/scale str", lambda c: PruneWrapper(keras.layers.Dense(2), sparsity_scale="2"), V,
     r"`sparsity_scale` must be"),
    ("wrapper/both", lambda c: PruneWrapper(keras.layers.Dense(2), sparsity_override=.5,
                                            sparsity_scale=.5), V, r"at most one of"),
    ("wrapper/follows", lambda c: PruneWrapper(keras.layers.Dense(2), follows=3), T, r"`follows`"),
    ("wrapper/names str", lambda c: PruneWrapper(keras.layers.Dense(2), weight_names="kernel"),
     T, r"`weight_names` must be a list"),
    ("wrapper/pattern", lambda c: PruneWrapper(keras.layers.Dense(2), pattern="x"), T,
     r"`pattern` must be"),
    ("Blocks/()", lambda c: Blocks(()), V, r"`block_shape` must be a non-empty tuple"),
    ("Blocks/float", lambda c: Blocks((2.5, 1)), V, r"`block_shape` must be"),
    ("NM/n>m", lambda c: NM(4, 2), V, r"1 <= n < m. Received: n=4, m=2"),
    ("NM/float", lambda c: NM(2.0, 4), V, r"Received: n=2.0"),
    ("Channels/criterion", lambda c: Channels("l3"), V, r"`criterion` must be one of"),
    ("Channels/normalize", lambda c: Channels(normalize="max"), V, r"`normalize` must be one of"),
    ("Channels/min", lambda c: Channels(min_channels=-1), V, r"`min_channels` must be an int"),
    ("Taylor/lengths", lambda c: CriterionData(X, Y[:-1]), V,
     r"`x` must be a non-empty array, and `y` None or an array of equal length"),
    ("Taylor/empty", lambda c: CriterionData([], []), V, r"`x` must be a non-empty array"),
    ("Taylor/batch", lambda c: CriterionData(X, Y, batch_size=0), V, r"`batch_size` must"),
    # sparsity schedules
    ("Poly/initial>final", lambda c: PolynomialDecay(.9, .5, 0, 10), V,
     r"`initial_sparsity` must be <= `final_sparsity`"),
    ("Poly/final 1", lambda c: PolynomialDecay(0, 1.0, 0, 10), V, r"`final_sparsity` must be"),
    ("Poly/end<begin", lambda c: PolynomialDecay(0, .5, 10, 5), V, r"`end_step` must be >="),
    ("Poly/power", lambda c: PolynomialDecay(0, .5, 0, 10, power=0), V, r"`power` must be"),
    ("Poly/frequency", lambda c: PolynomialDecay(0, .5, 0, 10, frequency=0), V, r"`frequency`"),
    ("Poly/begin", lambda c: PolynomialDecay(0, .5, -1, 10), V, r"`begin_step` must be an int"),
    ("Constant/1.0", lambda c: ConstantSparsity(1.0), V, r"`target_sparsity` must be"),
    ("Constant/step", lambda c: ConstantSparsity(.5, begin_step=2.5), V, r"`begin_step`"),
    ("Cycle/cycles", lambda c: CycleSparsity(.9, cycles=0), V, r"`cycles` must be an int >= 1"),
    ("Cycle/steps", lambda c: CycleSparsity(.9, 2, steps_per_cycle=0), V, r"`steps_per_cycle`"),
    ("cycle_sparsities", lambda c: cycle_sparsities(.9, 0), V, r"`cycles`"),
    # retraining schedules
    ("ALLR/no T", lambda c: ALLR(0.1, 10), V,
     r"AdaptiveLinearLearningRateRestarting needs the original training length"),
    ("LLR/-lr", lambda c: LLR(-0.1, 10), V, r"`original` must be a finite float > 0"),
    ("LLR/inf", lambda c: LLR(np.inf, 10), V, r"`original` must be a finite float > 0"),
    ("SLR/str", lambda c: SLR("fast", 10), V, r"`original` must be"),
    ("LLR/steps", lambda c: LLR(0.1, 0), V, r"`retrain_steps` must be an integer >= 1"),
    ("LLR/warmup", lambda c: LLR(0.1, 10, warmup=1.0), V, r"`warmup` must be a fraction"),
    ("LLR/start", lambda c: LLR(0.1, 10, start_step=-1), V, r"`start_step` must be"),
    ("LRW/longer", lambda c: LRW(0.1, 20, 10), V, r"`retrain_steps` must be <= `original_steps`"),
    ("ALLR/d1", lambda c: ALLR(0.1, 10, 100, d1=-1), V, r"`d1` must be a finite float >= 0"),
    ("allr_d1/fraction", lambda c: allr_d1([X], [X], 0.0), V, r"`pruned_fraction`"),
    # callbacks, at construction
    ("GMP/target 1", lambda c: PruningCallback(1.0, **GMP), V, r"`target_sparsity` must be"),
    ("GMP/target str", lambda c: PruningCallback("0.9", **GMP), V, r"`target_sparsity`"),
    ("GMP/stabilization", lambda c: PruningCallback(.5, stabilization_epochs=-1,
                                                    pruning_epochs=1, finetune_epochs=0), V,
     r"`stabilization_epochs` must be an int >= 0"),
    ("GMP/pruning_epochs", lambda c: PruningCallback(.5, stabilization_epochs=0,
                                                     pruning_epochs=0, finetune_epochs=0), V,
     r"`pruning_epochs` must be an int >= 1"),
    ("GMP/finetune float", lambda c: PruningCallback(.5, stabilization_epochs=0,
                                                     pruning_epochs=1, finetune_epochs=1.5), V,
     r"`finetune_epochs` must be an int"),
    ("GMP/initial", lambda c: PruningCallback(.5, initial_sparsity=.6, **GMP), V,
     r"`initial_sparsity` must be <= `target_sparsity`"),
    ("GMP/update_every 0", lambda c: PruningCallback(.5, update_every=0, **GMP), V,
     r"`update_every` must be 'epoch' or an int"),
    ("GMP/update_every", lambda c: PruningCallback(.5, update_every="batch", **GMP), V,
     r"`update_every`"),
    ("GMP/schedule", lambda c: PruningCallback(.5, schedule="exp", **GMP), V, r"`schedule`"),
    ("GMP/lr -1", lambda c: PruningCallback(.5, pruning_learning_rate=-1.0, **GMP), V,
     r"`pruning_learning_rate` must be a finite float > 0"),
    ("GMP/lr fast", lambda c: PruningCallback(.5, pruning_learning_rate="fast", **GMP), V,
     r"`pruning_learning_rate`.*Received: pruning_learning_rate='fast'"),
    ("GMP/ft rates []", lambda c: PruningCallback(.5, finetune_learning_rates=[], **GMP), V,
     r"`finetune_learning_rates` must be a non-empty list"),
    ("GMP/ft rate -1", lambda c: PruningCallback(.5, finetune_learning_rates=[1e-3, -1], **GMP),
     V, r"`finetune_learning_rates` must be a finite float > 0"),
    ("GMP/ft rates str", lambda c: PruningCallback(.5, finetune_learning_rates="1e-3", **GMP),
     V, r"`finetune_learning_rates`"),
    ("GMP/regularization", lambda c: PruningCallback(.5, remove_regularization="yes", **GMP),
     T, r"`remove_regularization` must be True or False"),
    ("GMP/data", lambda c: PruningCallback(.5, data=object(), **GMP), T,
     r"`data` must be a kerasprune.CriterionData or None"),
    ("IMP/target 0", lambda c: IMPCallback(0.0, **IMP), V, r"`target_sparsity` must be .*\(0, 1\)"),
    ("IMP/cycles", lambda c: IMPCallback(.5, cycles=0, **IMP), V, r"`cycles` must be an int >= 1"),
    ("IMP/epochs", lambda c: IMPCallback(.5, epochs_per_cycle=0, **IMP), V, r"`epochs_per_cycle`"),
    ("IMP/schedule", lambda c: IMPCallback(.5, retrain_schedule="fast", **IMP), V,
     r"`retrain_schedule` must be one of"),
    ("IMP/lr -1", lambda c: IMPCallback(.5, original_learning_rate=-1.0, original_epochs=3), V,
     r"`original_learning_rate` must be a finite float > 0 or a keras LearningRateSchedule"),
    ("IMP/lr fast", lambda c: IMPCallback(.5, original_learning_rate="fast", original_epochs=3),
     V, r"`original_learning_rate`.*Received: original_learning_rate='fast'"),
    ("IMP/no lr", lambda c: IMPCallback(.5, retrain_schedule="allr"), V,
     r"pass `original_learning_rate`"),
    ("IMP/rewind", lambda c: IMPCallback(.5, rewind_epoch=3, dense_epochs=1, **IMP), V,
     r"`rewind_epoch` must be an int in \[0, dense_epochs\]"),
    ("IMP/warmup", lambda c: IMPCallback(.5, warmup=2.0, **IMP), V, r"`warmup` must be a float"),
    ("IMP/T missing", lambda c: IMPCallback(.5, retrain_schedule="lrw", original_learning_rate=(
        keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))), V,
     r"pass `original_epochs`"),
    ("IMP/T 0", lambda c: IMPCallback(.5, original_learning_rate=.1, original_epochs=0), V,
     r"`original_epochs` must be an int >= 1"),
    ("BIMP/budget", lambda c: BIMPCallback(.5, total_epochs=2, dense_epochs=2), V,
     r"`dense_epochs` \(T0\) must be smaller than `total_epochs`"),
    ("BIMP/cycles", lambda c: BIMPCallback(.5, total_epochs=5, dense_epochs=2, cycles=4), V,
     r"the 4 cycles at least one epoch"),
    ("BIMP/max lr", lambda c: BIMPCallback(.5, total_epochs=3, dense_epochs=1,
                                           max_learning_rate=0), V,
     r"`max_learning_rate` must be a finite float > 0"),
    ("BIMP/total", lambda c: BIMPCallback(.5, total_epochs=0, dense_epochs=1), V,
     r"`total_epochs` must be an int >= 1"),
    # callbacks, refused in on_train_begin (before the first step)
    ("fit/no wrappers", lambda c: fit(compiled(plain()), PruningCallback(.5, **GMP)), V,
     r"needs a model with PruneWrapper layers"),
    ("fit/lr on schedule", lambda c: fit(c["scheduled"], PruningCallback(
        .5, pruning_learning_rate=.01, **GMP)), V, r"created with a LearningRateSchedule"),
    ("fit/2x to 100%", lambda c: fit(c["doubled"], PruningCallback(.9, **GMP)), V,
     r"Layer 'd1' would be pruned to 100% or more"),
    ("fit/taylor", lambda c: fit(c["taylor"], PruningCallback(.5, stabilization_epochs=1,
                                                               pruning_epochs=1,
                                                               finetune_epochs=0)), V,
     r"Pass `data=kerasprune.CriterionData"),
    ("fit/nan weights", lambda c: fit(c["nan"], IMPCallback(.5, **IMP)), V,
     r"Layer 'd1' has 6 NaN/Inf values"),
    ("fit/schedule above", lambda c: fit(c["pruned"], PruningCallback(
        .5, schedule=PolynomialDecay(0, .8, 0, 1, frequency=1), **GMP)), V,
     r"The schedule ends at sparsity 0.8, above `target_sparsity`=0.5"),
    ("fit/update_every", lambda c: fit(c["pruned"], PruningCallback(.5, update_every=10, **GMP)),
     V, r"update_every=10 .* is longer than the pruning stage"),
    ("fit/lrw longer", lambda c: fit(c["pruned"], IMPCallback(
        .5, epochs_per_cycle=2, retrain_schedule="lrw", original_learning_rate=.1,
        original_epochs=1)), V, r"`retrain_steps` must be <= `original_steps`"),
    ("fit/imp on schedule", lambda c: fit(c["scheduled"], IMPCallback(.5, **IMP)), V,
     r"created with a LearningRateSchedule"),
    ("fit/unknown length", lambda c: fit_generator(c["pruned"]), V,
     r"pass `steps_per_epoch` to fit"),
    # recipes
    ("recipe/method", lambda c: Recipe("sgd", {}), V, r"`method` must be one of \('gmp'"),
    ("recipe/target", lambda c: Recipe("gmp", {"target_sparsity": 1.0, **GMP}), V,
     r"`target_sparsity` must be a float in \[0, 1\)"),
    ("recipe/callback key", lambda c: Recipe("imp", {"target_sparsity": .5, **GMP}), V,
     r"`callback` does not fit method 'imp' \(IMPCallback\).*stabilization_epochs"),
    ("recipe/prune key", lambda c: Recipe("gmp", {"target_sparsity": .5, **GMP},
                                          prune={"scopes": "global"}), V,
     r"Unknown keys \['scopes'\] in recipe section `prune`"),
    ("recipe/section", lambda c: Recipe.from_dict({"method": "gmp", "extra": {}}), V,
     r"Unknown recipe sections \['extra'\]"),
    ("recipe/yaml list", lambda c: Recipe.from_yaml("- gmp\n- imp\n"), V,
     r"A recipe must be a mapping of sections"),
    # methods beyond GMP: RigL, penalties, sensitivity, SNIP, criterion data, MACs
    ("RigL/drop", lambda c: RigLCallback(.5, drop_fraction=1.5), V,
     r"`drop_fraction` must be a float in \(0, 1\)"),
    ("RigL/every", lambda c: RigLCallback(.5, update_every=0), V,
     r"`update_every` must be an int >= 1"),
    ("RigL/end", lambda c: RigLCallback(.5, end_epoch=0), V,
     r"`end_epoch` must be an int >= 1"),
    ("RigL/data", lambda c: RigLCallback(.5, data=(X, Y)), T,
     r"`data` must be a kerasprune.CriterionData or None. Received: data of type tuple"),
    ("fit/rigl no data", lambda c: fit(c["pruned"], RigLCallback(.5)), V,
     r"pass `data=kerasprune.CriterionData\(x_sample, y_sample\)`"),
    ("fit/rigl channels", lambda c: fit(compiled(kerasprune.prune(plain(), pattern=Channels())),
                                        RigLCallback(.5, data=CriterionData(X, Y))), V,
     r"layer 'd1' has pattern Channels\('l1'\)"),
    ("Penalty/threshold", lambda c: PenaltyPruningCallback(-1, penalty_epochs=1,
                                                           finetune_epochs=0), V,
     r"`threshold` must be a finite float > 0"),
    ("fit/penalty every", lambda c: fit(c["pruned"], PenaltyPruningCallback(
        .1, penalty_epochs=1, finetune_epochs=0, update_every=100)), V,
     r"update_every=100 .* is longer than the penalty phase"),
    ("prune/penalty", lambda c: P(c["plain"], penalty=0), V,
     r"`penalty` must be a finite float > 0"),
    ("GroupLasso/strength", lambda c: GroupLasso(np.nan), V, r"`strength` must be"),
    ("sensitivity/compile", lambda c: kerasprune.sensitivity(c["plain"], X, Y), V,
     r"is not compiled"),
    ("sensitivity/grid", lambda c: kerasprune.sensitivity(c["pruned"], X, Y,
                                                          sparsities=(.5, .5)), V,
     r"`sparsities` must be increasing"),
    ("sensitivity/metric", lambda c: kerasprune.sensitivity(c["pruned"], X, Y, metric="auc",
                                                            verbose=0), V,
     r"`metric` must be 'loss' or one of the model's compiled metrics"),
    ("one_shot/snip data", lambda c: kerasprune.one_shot_prune(compiled(plain()), .5,
                                                               criterion="snip"), V,
     r"pass data=\(x, y\)"),
    ("one_shot/criterion", lambda c: kerasprune.one_shot_prune(c["plain"], .5,
                                                               criterion="grasp2"), V,
     r"`criterion` must be one of \(None, 'magnitude', 'snip', 'obd', 'wanda', 'grasp', "
     r"'synflow', 'random', 'sparsegpt'\)"),
    ("CriterionData/y", lambda c: CriterionData(X, Y[:3]), V, r"of equal length"),
    ("report/input_shape", lambda c: kerasprune.sparsity_report(c["plain"], input_shape=(0,)),
     V, r"`input_shape` must be a non-empty tuple of positive ints"),
    # round three: one-shot calibration data, quantization, latency, distillation, recipes
    ("one_shot/data width", lambda c: O(c["plain"], .5, criterion="wanda", data=(X[:, :5],)),
     V, r"`data` must hold samples of shape \(n, 8\) for model 'plain'.*\(16, 5\)"),
    ("one_shot/data nan", lambda c: O(c["plain"], .5, criterion="wanda", data=(X * np.nan,)),
     V, r"`data` holds NaN or Inf values \(128 of 128\)"),
    ("one_shot/sparsegpt inf", lambda c: O(c["plain"], .5, criterion="sparsegpt",
                                           data=(X * np.inf,)), V, r"`data` holds NaN or Inf"),
    ("one_shot/data strings", lambda c: O(c["plain"], .5, criterion="obd",
                                          data=(np.full((4, 8), "a"),)), T,
     r"`data` must hold numbers for model 'plain'. Received: an array of dtype <U1"),
    ("one_shot/reconstruct str", lambda c: O(c["plain"], .5, pattern=Channels(), data=(X,),
                                             reconstruct="no"), T,
     r"`reconstruct` must be True or False. Received: reconstruct='no'"),
    ("one_shot/reconstruct width", lambda c: O(c["plain"], .5, pattern=Channels(),
                                               data=(X[:, :4],), reconstruct=True), V,
     r"`data` must hold samples of shape \(n, 8\)"),
    ("one_shot/reconstruct nan", lambda c: O(c["plain"], .5, pattern=Channels(),
                                             data=(X * np.nan,), reconstruct=True), V,
     r"`data` holds NaN or Inf"),
    ("one_shot/snip one-hot", lambda c: O(compiled(plain()), .5, criterion="snip",
                                          data=(X, np.eye(3)[Y])), V,
     r"loss cannot be computed on the criterion data's \(x, y\).*one-hot"),
    ("one_shot/snip labels", lambda c: O(compiled(plain()), .5, criterion="snip",
                                         data=(X, Y + 10)), V,
     r"loss cannot be computed.*label value of 12"),
    ("quantize/merged inputs", lambda c: quantize_model(two_inputs()), V,
     r"layers that read a model input together with other tensors: \['both'\]"),
    ("calibrate/width", lambda c: calibrate(c["qat"], X[:, :5]), V,
     r"`x` must hold samples of shape \(n, 8\) for model 'plain'"),
    ("calibrate/two arrays", lambda c: calibrate(c["qat"], [X, X]), V,
     r"`x` must hold one array per input of model 'plain' \(1\). Received: 2 arrays"),
    ("calibrate/one sample", lambda c: calibrate(c["qat"], X[0]), V, r"shape \(n, 8\)"),
    ("Channels/table unused", lambda c: Channels(latency_table=lambda r: [1.0] * len(r)), V,
     r"`latency_table` is read by target='latency' only"),
    ("Channels/table keys", lambda c: Channels(target="latency", latency_table={"thread": 2}),
     V, r"takes the keys \['path', 'num_threads'.*Received: unknown keys \['thread'\]"),
    ("Channels/seed", lambda c: Channels("random", seed="x"), V,
     r"`seed` must be an int >= 0. Received: seed='x'"),
    ("latency/negative", lambda c: O(c["plain"], .5, pattern=Channels(
        target="latency", latency_table=lambda r: [-1.0] * len(r))), V,
     r"one finite number >= 0 of microseconds per request"),
    ("LatencyTable/not a table", lambda c: LatencyTable(c["folder"] / "bad.keras"), V,
     r"Expected path to be a latency table.*holds something else"),
    ("LatencyTable/folder", lambda c: LatencyTable(c["folder"]), V, r"which is a folder"),
    ("distill/unbuilt teacher", lambda c: Distillation(c["unbuilt"]), V,
     r"`teacher` must be a built model"),
    ("distill/teacher inputs", lambda c: fit(c["pruned"], Distillation(keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3)]))), V,
     r"takes inputs of shape \[\(5,\)\] and the model 'plain' \[\(8,\)\]"),
    ("distill/itself", lambda c: fit(c["pruned"], Distillation(c["pruned"])), V,
     r"`teacher` is the model being trained \('plain'\)"),
    ("distill/softmax", lambda c: fit(c["pruned"], Distillation(keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(3, activation="softmax", name="probs")]))), V,
     r"ends with a softmax \(layer 'probs'\): Distillation compares logits"),
    ("distill/nan teacher", lambda c: fit(c["pruned"], Distillation(c["nan"])), V,
     r"The teacher 'plain' has NaN/Inf values"),
    ("recipe/policy layers", lambda c: Recipe.from_yaml(
        "method: one-shot\ncallback: {sparsity: 0.5}\ntraining: {epochs: 1}\n"
        "prune: {policy: xnnpack_sparse, layers: [d1]}"), V,
     r"`policy: xnnpack_sparse` chooses the layers to prune itself"),
    ("recipe/reconstruct", lambda c: Recipe.from_yaml(
        "method: one-shot\ncallback: {sparsity: 0.5, reconstruct: true}\n"
        "training: {epochs: 1}"), V, r"`reconstruct: true` .* `prune: \{pattern: channels\}`"),
    ("recipe/distill no training", lambda c: Recipe.from_yaml(
        "method: one-shot\ncallback: {sparsity: 0.5}\ntraining: {epochs: 0}\n"
        "distillation: {temperature: 2}"), V,
     r"`distillation` section teaches while the model trains"),
    ("prune/penalty config typo", lambda c: P(c["plain"], penalty={
        "class_name": "ElasticNet", "config": {"strenght": 1e-3}}), V,
     r"ElasticNet config takes \['strength', 'l1_ratio'\]. Received unknown keys: "
     r"\['strenght'\]"),
    # channel criteria on activation statistics (hostile round 4)
    ("Channels/lda regression y", lambda c: O(
        P(c["plain"], pattern=Channels("lda"), layers=["d1"]), 0.5,
        data=(X, np.linspace(0.0, 1.0, len(X)))), V,
     r"Channels\('lda'\).*not regression targets. Received: y of dtype float64"),
    ("Channels/lda 2-d regression y", lambda c: O(
        P(c["plain"], pattern=Channels("lda"), layers=["d1"]), 0.5,
        data=(X, np.full((len(X), 3), 0.7))), V,
     r"not class probabilities"),
    ("Channels/correlation 1 example", lambda c: O(
        P(c["plain"], pattern=Channels("correlation"), layers=["d1"]), 0.5, data=(X[:1],)), V,
     r"'correlation' criterion .* at least 2 of them. Received: `data` with 1 example"),
    # hostile round 5
    ("one_shot/two inputs swapped", lambda c: O(two_dense_inputs(), .5, criterion="wanda",
                                                data=([X[:, :5], X[:, :3]],)), V,
     r"`data` must hold samples of shape \(n, 3\)"),
    ("one_shot/below the masks", lambda c: O(c["unstructured"], .2), W,
     r"one_shot_prune: the model's masks already prune 0.5.* more than the sparsity=0.2"),
    ("update/below the masks", lambda c: U(c["unstructured"], .2), W,
     r"update_masks: the model's masks already prune 0.5.*masks_only_grow=False"),
    ("prune_wrappers/str", lambda c: kerasprune.prune_wrappers("model"), T,
     r"`model` must be a keras.Model \(or a layer\). Received: model='model'"),
    ("sensitivity/nan x", lambda c: kerasprune.sensitivity(c["pruned"], X * np.nan, Y,
                                                           verbose=0), V,
     r"`x` holds NaN or Inf values \(128 of 128\)"),
    ("GMP/rates without epochs", lambda c: PruningCallback(.5, finetune_learning_rates=[.1, .01],
                                                           **GMP), V,
     r"`finetune_learning_rates` holds one rate per part.*finetune_epochs=0"),
    ("tfmot/model kwargs", lambda c: S.prune_low_magnitude(c["plain"], pruning_scheduel=None),
     W, r"for a Sequential they are ignored: \['pruning_scheduel'\]"),
    ("tfmot/power -1", lambda c: S.PolynomialDecay(.2, .8, 0, 10, power=-1), V,
     r"`power` must be a finite number > 0. Received: power=-1"),
    ("tfmot/step without wrappers", lambda c: fit(compiled(plain()), S.UpdatePruningStep()), W,
     r"UpdatePruningStep: model 'plain' holds no layer wrapped by prune_low_magnitude"),
    ("tfmot/step and GMP", lambda c: compiled(S.prune_low_magnitude(two_dense())).fit(
        X, Y, epochs=1, verbose=0, callbacks=[S.UpdatePruningStep(), PruningCallback(.5, **GMP)]),
     W, r"UpdatePruningStep.* and PruningCallback.* both update the masks"),
    ("LLR/config key", lambda c: LLR.from_config({**LLR(.1, 10, 20).get_config(), "foo": 1}),
     V, r"LinearLearningRateRestarting's config takes \['original'.*unknown keys: \['foo'\]"),
    ("quantize/mixed precision", lambda c: quantize_model(keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(4, dtype="mixed_float16", name="half")])), V,
     r"computes in float16 or bfloat16 in layers \['half'\]"),
    ("recipe/key twice", lambda c: Recipe.from_yaml(RECIPE + "training: {epochs: 1}\n"
                                                    "training: {epochs: 5}"), V,
     r"found keys given twice in one mapping: \['training'\]"),
    ("recipe/learning rate twice", lambda c: Recipe.from_yaml(
        RECIPE + "training: {optimizer: {class_name: Adam, config: {learning_rate: 0.01}}, "
        "learning_rate: 0.001}"), V, r"gives the learning rate twice.*0.001.*0.01"),
    ("recipe/metric typo", lambda c: Recipe.from_yaml(RECIPE + "training: {metrics: [acuracy]}"),
     V, r"`training.metrics` cannot be built: .*acuracy"),
    ("recipe/loss config typo", lambda c: Recipe.from_yaml(
        RECIPE + "training: {loss: {class_name: SparseCategoricalCrossentropy, "
        "config: {from_logit: true}}}"), V,
     r"`training.loss` cannot be built: its config takes \[.*'from_logits'.*not \['from_logit'\]"),
    ("recipe/run nan x", lambda c: Recipe.from_yaml(RECIPE).run(c["plain"], X * np.nan, Y,
                                                                verbose=0), V,
     r"`x` holds NaN or Inf values"),
    ("recipe/run x width", lambda c: Recipe.from_yaml(RECIPE).run(c["plain"], X[:, :5], Y,
                                                                  verbose=0), V,
     r"`x` must hold samples of shape \(n, 8\) for model 'plain'"),
    ("recipe/run y None", lambda c: Recipe.from_yaml(RECIPE).run(c["plain"], X, None,
                                                                 verbose=0), V,
     r"`y` must hold the targets of the inputs.*Received: y=None"),
    ("recipe/run labels beyond", lambda c: Recipe.from_yaml(RECIPE).run(c["plain"], X, Y + 3,
                                                                        verbose=0), V,
     r"`y` must hold class indices in \[0, 3\) for the 3 outputs of model 'plain'"),
    ("recipe/run one-hot y", lambda c: Recipe.from_yaml(RECIPE).run(c["plain"], X, np.eye(3)[Y],
                                                                    verbose=0), V,
     r"cannot be computed on `y` and the outputs of model 'plain'"),
    ("recipe/run float y", lambda c: Recipe.from_yaml(RECIPE).run(
        c["plain"], X, np.linspace(0, 1, len(X)), verbose=0), V,
     r"`y` must hold class indices in \[0, 3\).*float64 values"),
    # systematic sweep: every argument of the public callables fed hostile values
    ("Unstructured/tensor", lambda c: kerasprune.Unstructured(tf.constant(0.5)), V,
     r"`criterion` must be one of \('magnitude', 'snip'\). Received: criterion=<tf.Tensor"),
    ("Channels/array", lambda c: Channels(np.array(["l1", "l2"])), V, r"`criterion` must be"),
    ("GMP/update_every tensor", lambda c: PruningCallback(.5, update_every=tf.constant(2.0),
                                                          **GMP), V, r"`update_every` must be"),
    ("shrink/verbose tensor", lambda c: kerasprune.shrink(c["unstructured"],
                                                          verbose=tf.constant(0)), V,
     r"`verbose` must be one of \(0, 1\) or 'auto'"),
    ("sensitivity/verbose", lambda c: kerasprune.sensitivity(c["pruned"], X, Y, verbose="yes"),
     V, r"`verbose` must be one of \(0, 1, 2\) or 'auto'. Received: verbose='yes'"),
    ("sensitivity/metric list", lambda c: kerasprune.sensitivity(c["pruned"], X, Y,
                                                                 metric=["loss"], verbose=0), V,
     r"`metric` must be 'loss' or the name of one of the model's compiled metrics"),
    ("sensitivity/y None", lambda c: kerasprune.sensitivity(c["pruned"], X, None, verbose=0), V,
     r"`y` must hold the targets of the inputs.*Received: y=None"),
    ("report/input_shape []", lambda c: kerasprune.sparsity_report(c["plain"], input_shape=[]),
     V, r"`input_shape` must be a non-empty tuple of positive ints"),
    ("report/input_shape wrong", lambda c: kerasprune.sparsity_report(c["plain"],
                                                                      input_shape=(5,)), V,
     r"`input_shape` must fit the input of model 'plain', of shape \(8,\). "
     r"Received: input_shape=\(5,\)"),
    ("report/baseline str", lambda c: kerasprune.sparsity_report(c["pruned"], baseline="x"), T,
     r"`baseline` must be a keras.Model. Received: baseline='x'"),
    ("register/names dict", lambda c: kerasprune.register_prunable(keras.layers.Dense,
                                                                   {"kernel": 1}), T,
     r"`weight_names` must be a non-empty list"),
    ("register/names int", lambda c: kerasprune.register_prunable(keras.layers.Dense, 3), T,
     r"`weight_names` must be a non-empty list"),
    ("LLR/max_lr -1", lambda c: LLR(0.1, 10, 100, max_lr=-1), V,
     r"`max_lr` must be a finite float > 0 or None. Received: max_lr=-1"),
    ("LLR/max_lr str", lambda c: LLR(0.1, 10, 100, max_lr="0.2"), V, r"`max_lr` must be"),
    ("LLR/max_lr nan", lambda c: LLR(0.1, 10, 100, max_lr=np.nan), V, r"`max_lr` must be"),
    ("LLR/max_lr below constant", lambda c: LLR(0.1, 10, 100, max_lr=0.05), V,
     r"LinearLearningRateRestarting: `max_lr` is the largest rate of the original schedule, "
     r"which is the constant original=0.1: max_lr must be >= it \(or None\). "
     r"Received: max_lr=0.05"),
    ("allr_d1/fraction str", lambda c: allr_d1([X], [X], "half"), V,
     r"`pruned_fraction` must be a float in \(0, 1\]. Received: pruned_fraction='half'"),
    ("allr_d1/fraction True", lambda c: allr_d1([X], [X], True), V, r"`pruned_fraction`"),
    ("allr_d1/weights float", lambda c: allr_d1(0.5, [X], 0.5), T,
     r"`weights_before` must be a non-empty list of weight arrays"),
    ("allr_d1/weights shapes", lambda c: allr_d1([X], [X[:, :3]], 0.5), V,
     r"must hold the same tensors. Received shapes \[\(16, 8\)\] and \[\(16, 3\)\]"),
    ("Poly/power inf", lambda c: PolynomialDecay(0, .5, 0, 10, power=np.inf), V,
     r"`power` must be a finite float > 0"),
    ("IMP/lr dict", lambda c: IMPCallback(.5, original_learning_rate={"a": 1},
                                          original_epochs=3), V,
     r"`original_learning_rate` is a dict, and so must be a serialized Keras learning-rate "
     r"schedule"),
    ("tfmot/policy str", lambda c: S.prune_low_magnitude(c["plain"], pruning_policy="xnnpack"),
     T, r"`pruning_policy` must be a PruningPolicy.*Received: pruning_policy='xnnpack'"),
    ("tfmot/pooling list", lambda c: S.prune_low_magnitude(c["plain"],
                                                           block_pooling_type=["AVG"]), V,
     r"`block_pooling_type` must be 'AVG' or 'MAX'"),
    ("tfmot/m_by_n empty", lambda c: S.prune_low_magnitude(c["plain"], sparsity_m_by_n=()), V,
     r"`sparsity_m_by_n`"),
    ("tfmot/summaries freq", lambda c: S.PruningSummaries(str(c["folder"] / "logs"),
                                                          update_freq="step"), V,
     r"`update_freq` must be 'epoch', 'batch' or an int number of batches >= 1. "
     r"Received: update_freq='step'"),
    ("recipe/mask_dtype float32", lambda c: Recipe.from_yaml(
        RECIPE + "prune: {mask_dtype: float32}"), V,
     r"`mask_dtype` must be one of \(None, 'uint8'\)"),
    ("recipe/from_yaml path", lambda c: Recipe.from_yaml(str(c["folder"] / "recipe.yaml")), V,
     r"looks like a path: read a recipe file with Recipe.load\(path\)"),
    ("recipe/run dataset", lambda c: Recipe.from_yaml(RECIPE).run(
        c["plain"], tf.data.Dataset.from_tensor_slices((X, Y)).batch(8), None, verbose=0), T,
     r"`x` must be an array \(or a dict or list of arrays.*Received: x of type _BatchDataset"),
    ("fit/empty data", lambda c: c["pruned"].fit(X[:0], Y[:0], epochs=1, verbose=0,
                     callbacks=[PruningCallback(.5, **GMP)]), V,
     r"PruningCallback: fit was given no data \(0 steps per epoch\)"),
    # shrink
    ("shrink/model", lambda c: kerasprune.shrink("x"), T, r"`model` must be a keras.Model"),
    ("shrink/subclassed", lambda c: kerasprune.shrink(c["tiny"]), V, r"is subclassed"),
    ("shrink/unstructured", lambda c: kerasprune.shrink(c["unstructured"]), W,
     r"shrink removed nothing.*pattern=kerasprune.Channels"),
]


@pytest.mark.parametrize("call, expected, message", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_is_refused_before_any_state_changes(ctx, capsys, call, expected, message):
    check_refused(ctx, capsys, call, expected, message)


def test_what_a_user_writes_is_read_as_meant():
    """Hostile round 4's false rejects: YAML's `1e-4` (a string in YAML 1.1) and numpy seeds."""
    from kerasprune.core.l0_gates import L0Gates
    recipe = Recipe.from_yaml(
        "method: penalty\ncallback: {threshold: 1e-2, penalty_epochs: 1, finetune_epochs: 1}\n"
        "prune: {penalty: {class_name: ElasticNet, config: {strength: 1e-4}}}\n"
        "training: {learning_rate: 3E-4}")
    assert recipe.prune["penalty"]["config"]["strength"] == 1e-4
    assert recipe.training["learning_rate"] == 3e-4 and recipe.callback["threshold"] == 0.01
    assert Recipe.from_yaml(recipe.to_yaml()) == recipe
    assert L0Gates(1e-3, seed=np.int64(3)).get_config()["seed"] == 3


def test_round_five_inputs_are_read_as_meant():
    """Hostile round 5: a list of arrays for a two-input model's calibration data (as Keras
    takes it), integer-valued token data for int8 conversion, and a new run started at a
    later epoch (warned: the schedule's first epochs are skipped)."""
    import tflite_export
    from tests.test_bad_inputs_export import token_model

    pruned = O(two_dense_inputs(), .5, criterion="wanda", data=([X[:, :3], X[:, :5]],))
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(.5, abs=.02)
    tokens = np.random.default_rng(0).integers(0, 20, (8, 5)).astype("float32")
    content = tflite_export.convert(token_model(), sparse=False, quantize="int8",
                                    representative_data=tokens, verbose=0)
    assert content[4:8] == b"TFL3"
    model = compiled(kerasprune.prune(plain()))
    callback = PruningCallback(.5, stabilization_epochs=0, pruning_epochs=2, finetune_epochs=1)
    with pytest.warns(UserWarning, match=r"this fit starts at epoch 2, but the model's resume "
                                         r"state says no epoch of this run is done"):
        model.fit(X, Y, epochs=3, initial_epoch=2, verbose=0, callbacks=[callback])


def test_labels_of_shape_n_for_one_sigmoid_output_are_taken_as_fit_takes_them():
    from kerasprune.core.validation import check_targets

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    check_targets(model, keras.losses.get("binary_crossentropy"), np.zeros((4, 3)),
                  np.array([0, 1, 1, 0]))


def test_one_shot_again_on_its_result_with_the_same_criterion_is_taken():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, name="fc")])
    x = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")
    first = kerasprune.one_shot_prune(model, 0.5, criterion="wanda", data=(x,))
    again = kerasprune.one_shot_prune(first, 0.75, criterion="wanda", data=(x,))
    assert kerasprune.sparsity_report(again).total == 0.75
    with pytest.raises(ValueError, match=r"criterion='sparsegpt'; the wrappers hold \['wanda'\]"):
        kerasprune.one_shot_prune(first, 0.75, criterion="sparsegpt", data=(x,))
