"""The engine under every pruning callback: fit's clock and the stopped-early warning."""

import warnings

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback
from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback
from kerasprune.core.l0_gates import L0Gates

X = np.random.default_rng(0).standard_normal((12, 8)).astype("float32")
Y = np.random.default_rng(1).standard_normal((12, 4)).astype("float32")


def _dense_model():
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]))
    model.compile("sgd", "mse")
    return model


class SparsityAtEveryStep(keras.callbacks.Callback):
    """The model's sparsity as each training batch ends (after any pruning at its start)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(kerasprune.sparsity_report(self.model).total)


def test_a_step_schedule_updates_the_masks_at_every_step_of_every_epoch():
    # 3 steps per epoch, 2 pruning epochs: the linear ramp asks a new target at steps 0..5,
    # including the second step of each epoch (step 1 and step 4).
    gmp = kerasprune.PruningCallback(0.75, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=0, update_every=1, initial_sparsity=0.0,
                                     schedule="linear")
    spy = SparsityAtEveryStep()
    _dense_model().fit(X, Y, batch_size=4, epochs=2, callbacks=[gmp, spy], verbose=0)
    expected = [round(0.15 * step * 32) / 32 for step in range(6)]  # 32 weights in the kernel
    assert spy.seen == pytest.approx(expected)
    assert len(set(spy.seen)) == 6  # six different sparsities: no step was skipped


def _stopped_after_one_epoch(callback):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _dense_model().fit(X, Y, batch_size=4, epochs=1, callbacks=[callback], verbose=0)
    return [str(w.message) for w in caught if "fit stopped after epoch" in str(w.message)]


def test_a_fit_stopped_early_warns_only_when_the_target_is_not_reached():
    # The one pruning epoch reaches 0.5 exactly (16 of 32 weights); the fit stops before
    # the two fine-tuning epochs, which is fine: nothing to warn about.
    at_target = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                           finetune_epochs=2)
    assert _stopped_after_one_epoch(at_target) == []
    # One pruning epoch of two: the model is left at the first step of the ramp.
    short = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                       finetune_epochs=0, initial_sparsity=0.25)
    [message] = _stopped_after_one_epoch(short)
    assert "sparsity 0.2500, not the target 0.5" in message
    assert "initial_epoch=1, epochs=2" in message


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_a_fit_stopped_by_another_callback_warns_with_the_epochs_that_ran():
    # fit is asked for the whole schedule (3 epochs) but a callback stops it after the first.
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=1, initial_sparsity=0.25)
    with pytest.warns(UserWarning, match="fit stopped after epoch 1 of the 3") as caught:
        _dense_model().fit(X, Y, batch_size=4, epochs=3, verbose=0,
                           callbacks=[gmp, StopAfterFirstEpoch()])
    [message] = [str(w.message) for w in caught if "fit stopped" in str(w.message)]
    assert "model.stop_training was set" in message and "asked for 3 epochs" in message
    assert "sparsity 0.2500, not the target 0.5" in message


def test_data_of_unknown_length_is_refused_saying_why_epoch_updates_need_it():
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((X, Y)).filter(lambda x, y: True).batch(4)
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0, update_every="epoch")
    with pytest.raises(ValueError, match=r"with update_every='epoch' too\).*pass "
                       r"`steps_per_epoch` to fit.*assert_cardinality\(n\)"):
        _dense_model().fit(data, epochs=1, callbacks=[gmp], verbose=0)


# Every constructor argument of each callback set away from its default (`importance`,
# which holds data, is the one argument get_config leaves out).
CALLBACK_OPTIONS = [
    (kerasprune.PruningCallback, dict(
        target_sparsity=0.8, stabilization_epochs=1, pruning_epochs=3, finetune_epochs=2,
        initial_sparsity=0.3, update_every=7, schedule="linear", pruning_learning_rate=0.05,
        finetune_learning_rates=[1e-3, 1e-4], remove_regularization=True, log_dir="logs")),
    (kerasprune.IMPCallback, dict(
        target_sparsity=0.8, cycles=3, epochs_per_cycle=2, retrain_schedule="slr",
        original_learning_rate=0.2, original_epochs=9, dense_epochs=2, rewind_epoch=1,
        warmup=0.25, log_dir="logs")),
    (kerasprune.BIMPCallback, dict(
        target_sparsity=0.8, total_epochs=9, dense_epochs=4, cycles=2, max_learning_rate=0.3,
        warmup=0.2, log_dir="logs")),
    (kerasprune.RigLCallback, dict(
        target_sparsity=0.8, update_every=20, drop_fraction=0.2, end_epoch=5)),
    (kerasprune.PenaltyPruningCallback, dict(
        threshold=0.02, penalty_epochs=3, finetune_epochs=2, update_every=9,
        target_sparsity=0.6)),
    (MovementPruningCallback, dict(
        target_sparsity=0.8, stabilization_epochs=1, pruning_epochs=3, finetune_epochs=2,
        initial_sparsity=0.3, update_every=7, schedule="one_shot", pruning_learning_rate=0.05,
        finetune_learning_rates=[1e-3, 1e-4], remove_regularization=True, log_dir="logs")),
    (L0PruningCallback, dict(target_sparsity=0.7, gate_epochs=3, finetune_epochs=2)),
]


@pytest.mark.parametrize("cls, options", CALLBACK_OPTIONS,
                         ids=[cls.__name__ for cls, _ in CALLBACK_OPTIONS])
def test_get_config_is_exactly_the_constructor_arguments(cls, options):
    callback = cls(**options)
    assert callback.get_config() == options
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(callback))
    assert type(restored) is cls and restored.get_config() == options


def test_importance_is_the_deprecated_name_of_data():
    data = kerasprune.CriterionData(X[:4], Y[:4])
    stages = dict(stabilization_epochs=0, pruning_epochs=1, finetune_epochs=0)
    with pytest.warns(DeprecationWarning,
                      match=r"PruningCallback: `importance=` is deprecated .*use `data=`"):
        callback = kerasprune.PruningCallback(0.5, importance=data, **stages)
    assert callback.data is data
    with pytest.raises(ValueError, match=r"give `data=` only \(`importance=` is its old name"):
        kerasprune.PruningCallback(0.5, importance=data, data=data, **stages)


def test_a_fit_with_a_pruning_callback_does_not_warn_that_it_has_none():
    # stabilization first: the masks prune nothing while the train step is traced
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=1, pruning_epochs=1,
                                     finetune_epochs=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _dense_model().fit(X, Y, batch_size=4, epochs=2, callbacks=[gmp], verbose=0)
    assert not [w for w in caught if "without a pruning callback" in str(w.message)]


TAKING_DATA = [(cls, options) for cls, options in CALLBACK_OPTIONS if cls is not L0PruningCallback]


@pytest.mark.parametrize("cls, options", TAKING_DATA, ids=[cls.__name__ for cls, _ in TAKING_DATA])
def test_every_callback_keeps_the_data_it_is_given(cls, options):
    data = kerasprune.CriterionData(X[:4], Y[:4])
    assert cls(**options, data=data).data is data


def test_the_data_reaches_a_data_driven_criterion():
    # Wanda scores |w| times its input's norm: the data decides the masks. With a learning
    # rate of 0, GMP's one update keeps what one-shot Wanda on the same data keeps.
    data = kerasprune.CriterionData(X * np.linspace(0.1, 3.0, 8, dtype="float32"))
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    expected = kerasprune.one_shot_prune(dense, 0.5, criterion="wanda", data=data)
    model = kerasprune.prune(dense, criterion="wanda")
    model.compile(keras.optimizers.SGD(0.0), "mse")
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0, schedule="one_shot", data=data)
    model.fit(X, Y, batch_size=4, epochs=1, callbacks=[gmp], verbose=0)
    [mask], [wanted] = (kerasprune.prune_wrappers(m)[0].masks for m in (model, expected))
    np.testing.assert_array_equal(np.asarray(mask), np.asarray(wanted))
    magnitude = kerasprune.one_shot_prune(dense, 0.5)  # what the weights alone would keep
    assert not np.array_equal(np.asarray(kerasprune.prune_wrappers(magnitude)[0].masks[0]),
                              np.asarray(mask))


def test_a_resumed_run_above_its_target_is_not_warned_again():
    # A threshold that removes more than the target warns once; the same run resumed from
    # its state is not told that its masks already prune more than the target.
    model = kerasprune.prune(keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)]),
                             penalty=1e-3)
    model.compile("sgd", "mse")
    callback = kerasprune.PenaltyPruningCallback(10.0, penalty_epochs=1, finetune_epochs=1,
                                                 target_sparsity=0.5)
    with pytest.warns(UserWarning, match="removed more than the target"):
        model.fit(X, Y, batch_size=4, epochs=1, callbacks=[callback], verbose=0)
    assert kerasprune.sparsity_report(model).total > 0.5 + 1e-3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, batch_size=4, initial_epoch=1, epochs=2, callbacks=[callback],
                  verbose=0)
    assert not [w for w in caught if "already prune" in str(w.message)]


def test_a_new_run_started_at_epoch_one_is_warned_that_epoch_zero_is_skipped():
    # The boundary of the check: a single skipped epoch already skips the ramp's first target.
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=0)
    with pytest.warns(UserWarning, match=r"this fit starts at epoch 1, but the model's resume "
                                         r"state says no epoch of this run is done"):
        _dense_model().fit(X, Y, batch_size=4, initial_epoch=1, epochs=2, callbacks=[gmp],
                           verbose=0)



def _model_for(cls):
    """The two-layer model each policy prunes (penalties and gates where it needs them)."""
    options = {kerasprune.PenaltyPruningCallback: {"penalty": 1e-3},
               L0PruningCallback: {"pattern": kerasprune.Channels(), "penalty": L0Gates(1e-3),
                                   "layers": ["hidden"]}}.get(cls, {})
    model = kerasprune.prune(keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(8, activation="relu", name="hidden"),
        keras.layers.Dense(4, name="out")]), **options)
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


GMP_STAGES = {"stabilization_epochs": 1, "pruning_epochs": 2, "finetune_epochs": 1}
# The steps of fit at which each policy writes the masks, at 3 steps an epoch (12 samples,
# batch 4): `trace`'s first entry is the fit's start, the others are the mask updates.
# GMP's targets are exact in whole weights: its fine-tuning start does not top them up.
# (class, target or threshold, options, epochs, steps)
UPDATE_STEPS = {
    "gmp_epoch": (kerasprune.PruningCallback, 0.5, GMP_STAGES, 4, [0, 3, 6]),
    "gmp_every_2": (kerasprune.PruningCallback, 0.5, {**GMP_STAGES, "update_every": 2}, 4,
                    [0, 3, 5, 7]),
    "gmp_more_than_half_the_stage": (kerasprune.PruningCallback, 0.5, {
        "stabilization_epochs": 0, "pruning_epochs": 2, "finetune_epochs": 0,
        "update_every": 4}, 2, [0, 0]),
    "gmp_one_shot_every_step": (kerasprune.PruningCallback, 0.5, {
        "stabilization_epochs": 0, "pruning_epochs": 1, "finetune_epochs": 1,
        "update_every": 1, "schedule": "one_shot"}, 2, [0, 0, 1, 2]),
    "gmp_one_shot_by_epoch": (kerasprune.PruningCallback, 0.5, {
        "stabilization_epochs": 0, "pruning_epochs": 2, "finetune_epochs": 0,
        "schedule": "one_shot"}, 2, [0, 0, 3]),
    "movement": (MovementPruningCallback, 0.6, {
        "stabilization_epochs": 0, "pruning_epochs": 2, "finetune_epochs": 1}, 3, [0, 3, 6]),
    "imp": (kerasprune.IMPCallback, 0.6, {"cycles": 3, "epochs_per_cycle": 2,
                                          "dense_epochs": 1, "retrain_schedule": None},
            7, [0, 3, 9, 15]),
    "penalty_every_2": (kerasprune.PenaltyPruningCallback, 1e-9, {
        "penalty_epochs": 2, "finetune_epochs": 1, "update_every": 2}, 3, [0, 2, 4, 6]),
    "penalty_epoch": (kerasprune.PenaltyPruningCallback, 1e-9, {
        "penalty_epochs": 2, "finetune_epochs": 1}, 3, [0, 3, 6]),
    "rigl": (kerasprune.RigLCallback, 0.6, {"update_every": 2, "end_epoch": 2}, 3,
             [0, 0, 2, 4]),
    "rigl_default_end": (kerasprune.RigLCallback, 0.6, {"update_every": 2}, 5,
                         [0, 0, 2, 4, 6, 8, 10]),  # 3/4 of 15 steps: moves before step 11
    "l0": (L0PruningCallback, 0.5, {"gate_epochs": 2, "finetune_epochs": 1}, 3, [0, 6]),
}


@pytest.mark.parametrize("name", UPDATE_STEPS)
def test_each_policy_writes_the_masks_at_exactly_its_steps(name):
    cls, first, options, epochs, steps = UPDATE_STEPS[name]
    if cls is kerasprune.RigLCallback:
        options = {**options, "data": kerasprune.CriterionData(X, Y)}
    callback = cls(first, **options)
    model = _model_for(cls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a threshold of 1e-9 removes nothing: warned
        model.fit(X, Y, batch_size=4, epochs=epochs, callbacks=[callback], verbose=0)
    assert [step for step, _ in callback.trace["sparsity"]] == steps
    assert callback.trace["sparsity"][-1][1] == pytest.approx(
        kerasprune.sparsity_report(model).total)


def _resume_warnings(model, callback, initial_epoch, epochs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, batch_size=4, initial_epoch=initial_epoch, epochs=epochs,
                  callbacks=[callback], verbose=0)
    return [str(w.message) for w in caught if "resume state says" in str(w.message)]


def test_a_fit_resumed_one_epoch_before_the_epochs_done_is_warned_and_one_at_them_is_not():
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=3,
                                     finetune_epochs=0)
    model = _dense_model()
    assert _resume_warnings(model, gmp, 0, 2) == []
    [message] = _resume_warnings(model, gmp, 1, 2)  # epoch 1 is done already
    assert "says 2 epochs of this run are done, but this fit starts at epoch 1" in message
    assert "run epochs 1..1 of the schedule again" in message
    assert "initial_epoch=2" in message
    assert _resume_warnings(model, gmp, 2, 3) == []  # the exact continuation


@pytest.mark.parametrize("early_stopping_first", [False, True])
def test_early_stopping_restoring_an_epoch_below_the_target_warns(early_stopping_first):
    # mode="max" on the loss: the first epoch stays the best, so EarlyStopping restores its
    # weights, masks included (0.25 of the ramp), whichever of the two ends the fit first.
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=1, initial_sparsity=0.25)
    stop = keras.callbacks.EarlyStopping("loss", mode="max", patience=10,
                                         restore_best_weights=True)
    model = _dense_model()
    with pytest.warns(UserWarning, match="restore_best_weights=True") as caught:
        model.fit(X, Y, batch_size=4, epochs=3, verbose=0,
                  callbacks=[stop, gmp] if early_stopping_first else [gmp, stop])
    assert kerasprune.sparsity_report(model).total == pytest.approx(0.25)
    [message] = [str(w.message) for w in caught if "restore_best" in str(w.message)]
    assert "epoch 1" in message and "sparsity 0.2500, not the 0.5000" in message


def test_early_stopping_restoring_an_epoch_at_the_target_is_quiet():
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=2)
    stop = keras.callbacks.EarlyStopping("loss", mode="max", patience=10,
                                         restore_best_weights=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _dense_model().fit(X, Y, batch_size=4, epochs=3, verbose=0, callbacks=[gmp, stop])
    assert not [w for w in caught if "restore_best_weights" in str(w.message)]


def _unmasked_values(model) -> int:
    """How many weights the masks prune are not 0 in the model now."""
    return sum(int(np.count_nonzero(weight.numpy()[np.asarray(mask) == 0]))
               for wrapper in kerasprune.prune_wrappers(model)
               for weight, mask in zip(wrapper.pruned_weights, wrapper.masks))


class UnmaskedWhenSwapped(keras.callbacks.Callback):
    """After `SwapEMAWeights` in the list: the unmasked weights of the model it evaluates
    (validation) and leaves in the model at each epoch end."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_test_begin(self, logs=None):
        self.seen.append(_unmasked_values(self.model))

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(_unmasked_values(self.model))


EMA_POLICIES = ["gmp_epoch", "movement", "imp", "penalty_epoch", "rigl", "l0"]


def _fit_with_ema(name, *extra, validation_split=0.0):
    cls, first, options, epochs, _ = UPDATE_STEPS[name]
    if cls is kerasprune.RigLCallback:
        options = {**options, "data": kerasprune.CriterionData(X, Y)}
    if cls is kerasprune.PenaltyPruningCallback:
        first = 0.2  # a threshold that prunes some weights
    model = _model_for(cls)
    model.compile(keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.5), "mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, batch_size=4, epochs=epochs, validation_split=validation_split,
                  callbacks=[cls(first, **options), *extra], verbose=0)
    assert not [w for w in caught if "use_ema=True" in str(w.message)]
    assert kerasprune.sparsity_report(model).total > 0.1
    return model, epochs


def test_an_ema_optimizer_keeps_the_pruned_weights_at_zero_when_fit_ends():
    # With use_ema=True Keras writes the optimizer's moving averages into the model when
    # fit ends: they must be masked too.
    model, _ = _fit_with_ema("gmp_epoch")
    assert _unmasked_values(model) == 0


@pytest.mark.parametrize("name", EMA_POLICIES)
def test_swap_ema_weights_swaps_in_and_evaluates_masked_weights(name):
    # SwapEMAWeights writes the moving averages into the model at every epoch end and for
    # validation, and fit leaves them there: every policy's masks hold in them.
    spy = UnmaskedWhenSwapped()
    model, epochs = _fit_with_ema(name, keras.callbacks.SwapEMAWeights(swap_on_epoch=True),
                                  spy, validation_split=0.25)
    assert _unmasked_values(model) == 0
    assert spy.seen == [0] * (2 * epochs)  # each epoch: its end, then its validation


def test_an_ema_optimizer_without_a_pruning_callback_is_warned_with_what_to_do():
    # Fine-tuning a pruned model with plain fit: nothing masks the moving averages.
    model = _dense_model()
    kerasprune.update_masks(model, 0.5)
    model.compile(keras.optimizers.Adam(0.05, use_ema=True), "mse")
    with pytest.warns(UserWarning, match=r"without a pruning callback by an optimizer with "
                                         r"use_ema=True.*w\.apply_masks\(\)"):
        model.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    assert _unmasked_values(model) > 0  # what the warning says
    for wrapper in kerasprune.prune_wrappers(model):
        wrapper.apply_masks()  # what it advises
    assert _unmasked_values(model) == 0
    assert kerasprune.sparsity_report(model).total == pytest.approx(0.5)
