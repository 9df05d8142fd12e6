"""The validators every public entry point uses: what they accept and their whole messages."""

import math
import re

import numpy as np
import pytest

from kerasprune.core.validation import (
    check_choice,
    check_finite_weights,
    check_model,
    check_positive,
    check_scale,
    check_int,
    check_learning_rate,
    check_sparsity,
    check_update_every,
    is_int,
    is_number,
)


def refused(message):
    return pytest.raises(ValueError, match=f"^{re.escape(message)}$")


def test_numbers_and_ints_are_real_numbers_never_bools_or_strings():
    assert [is_number(v) for v in (0, 0.5, np.float32(2), np.int64(3), math.inf)] == [True] * 5
    assert [is_number(v) for v in (True, "1", None, 1j, [1])] == [False] * 5
    assert [is_int(v) for v in (0, -3, np.int32(7))] == [True] * 3
    assert [is_int(v) for v in (False, 1.0, "1", None)] == [False] * 4


def test_check_sparsity():
    assert check_sparsity("s", 0) == 0.0 and type(check_sparsity("s", 0)) is float
    assert check_sparsity("s", np.float32(0.5)) == 0.5
    assert check_sparsity("s", 0.999) == 0.999
    for bad in (1.0, -0.01, math.nan, math.inf, True, "0.5", None):
        with refused(f"`s` must be a float in [0, 1). Received: s={bad!r}"):
            check_sparsity("s", bad)
    assert check_sparsity("s", 0.1, allow_zero=False) == 0.1
    with refused("`s` must be a float in (0, 1). Received: s=0"):
        check_sparsity("s", 0, allow_zero=False)


def test_check_int():
    assert check_int("n", 0) == 0 and check_int("n", np.int64(4), minimum=4) == 4
    assert type(check_int("n", np.int64(4))) is int
    for bad, minimum in ((-1, 0), (2, 3), (1.0, 0), (True, 0), ("2", 0)):
        with refused(f"`n` must be an int >= {minimum}. Received: n={bad!r}"):
            check_int("n", bad, minimum=minimum)


def test_check_learning_rate():
    assert check_learning_rate("lr", 1e-3) == 1e-3 and check_learning_rate("lr", 2) == 2.0
    assert check_learning_rate("lr", None, optional=True) is None
    for bad in (0, -1.0, math.inf, math.nan, "0.1", True):
        with refused(f"`lr` must be a finite float > 0. Received: lr={bad!r}"):
            check_learning_rate("lr", bad)
    with refused("`lr` must be a finite float > 0 or None. Received: lr=0.0"):
        check_learning_rate("lr", 0.0, optional=True)
    with refused("`lr` must be a finite float > 0. Received: lr=None"):
        check_learning_rate("lr", None)


def test_check_choice():
    assert check_choice("scope", "layer", ["layer", "global"]) == "layer"
    assert check_choice("schedule", None, ("ft", None)) is None
    for bad in ("model", ["layer"], {"layer": 1}, {"layer"}):
        with refused(f"`scope` must be one of ('layer', 'global'). Received: scope={bad!r}"):
            check_choice("scope", bad, ["layer", "global"])


def test_check_update_every():
    assert check_update_every("epoch") == "epoch"
    assert check_update_every(1) == 1 and type(check_update_every(np.int64(5))) is int
    for bad in (0, -2, 1.5, True, "batch", "EPOCH", None):
        with refused("`update_every` must be 'epoch' or an int number of steps >= 1. "
                     f"Received: update_every={bad!r}"):
            check_update_every(bad)


def test_check_scale_takes_finite_factors_from_zero_up():
    assert check_scale("sparsity_scale", 0) == 0.0 and check_scale("s", 2) == 2.0
    for bad in (-1, -0.5, math.inf, math.nan, "2"):
        message = f"`sparsity_scale` must be a finite float >= 0. Received: sparsity_scale={bad!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            check_scale("sparsity_scale", bad)


def test_check_learning_rate_takes_a_schedule_only_where_allowed_and_says_so():
    import keras

    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert check_learning_rate("lr", schedule, schedule_ok=True) is schedule
    with pytest.raises(ValueError, match=r"^`lr` must be a finite float > 0\. Received: lr=<"):
        check_learning_rate("lr", schedule)
    message = ("`lr` must be a finite float > 0 or a keras LearningRateSchedule or None. "
               "Received: lr=-1")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_learning_rate("lr", -1, optional=True, schedule_ok=True)


def test_check_positive():
    assert check_positive("penalty", 2) == 2.0 and type(check_positive("p", 2)) is float
    assert check_positive("p", 1e-12) == 1e-12
    assert check_positive("p", None, optional=True) is None
    for bad in (0, -1e-9, math.inf, math.nan, "1", True, None):
        with refused(f"`p` must be a finite float > 0. Received: p={bad!r}"):
            check_positive("p", bad)
    with refused("`p` must be a finite float > 0 or None. Received: p=0"):
        check_positive("p", 0, optional=True)


def test_check_model_names_the_argument_and_what_is_missing():
    import keras

    built = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert check_model(built) is built
    unbuilt = keras.Sequential([keras.layers.Dense(1)], name="later")
    assert check_model(unbuilt, built=False) is unbuilt
    with pytest.raises(TypeError, match=r"^`net` must be a keras\.Model\. Received: "
                                        r"net='m\.keras' of type str$"):
        check_model("m.keras", "net")
    message = ("`model` must be a built model, and model 'later' is not built yet (it has no "
               "weights). Start a Sequential model with keras.Input(shape), or call "
               f"model.build(input_shape) or the model on data first. Received: model={unbuilt!r}")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_model(unbuilt)


def test_check_finite_weights_counts_and_names_the_first_bad_tensor():
    import keras
    import kerasprune

    wrappers = []
    for name in ("a", "b"):
        wrapper = kerasprune.PruneWrapper(keras.layers.Dense(3, name=name))
        wrapper.build((None, 2))
        wrappers.append(wrapper)
    check_finite_weights(wrappers)  # all finite: no error
    wrappers[1].layer.kernel.assign([[np.nan, np.inf, 1.0], [-np.inf, 0.0, 1.0]])
    message = ("Layer 'b' has 3 NaN/Inf values in its weight 'kernel': magnitude pruning "
               "cannot rank them. Training probably diverged: lower the learning rate, or "
               "restore finite weights before pruning.")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_finite_weights(wrappers)
