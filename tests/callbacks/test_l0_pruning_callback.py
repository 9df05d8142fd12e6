"""L0 gates: the expected-L0 formula, training in fit, exact hard masks, exact folding."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback
from kerasprune.core.l0_gates import HardConcreteGates, L0Gates
from kerasprune.structured.channel_patterns import channels_kept
from tests.helpers import compile_classifier, small_cnn


def gated_mlp(strength=1e-3, units=8):
    model = keras.Sequential([keras.Input((4,)),
                              keras.layers.Dense(units, activation="relu", name="d"),
                              keras.layers.Dense(1, name="out")])
    return kerasprune.prune(model, layers=["d"], pattern=kerasprune.Channels(),
                            penalty=L0Gates(strength))


def test_expected_l0_and_its_loss_match_the_formula():
    gates = HardConcreteGates(3, [5, 5, 2], strength=0.1)
    log_alpha = np.array([-2.0, 0.0, 3.0])
    gates.log_alpha.assign(log_alpha)
    beta, gamma, zeta = 2 / 3, -0.1, 1.1
    p_open = 1 / (1 + np.exp(-(log_alpha - beta * np.log(-gamma / zeta))))
    np.testing.assert_allclose(gates.open_probability(), p_open, rtol=1e-6)
    assert gates.expected_l0() == pytest.approx(float(np.sum([5, 5, 2] * p_open)))
    gates(np.ones((1, 3), "float32"), training=False)
    assert float(gates.losses[0]) == pytest.approx(0.1 * gates.expected_l0(), rel=1e-5)
    s = 1 / (1 + np.exp(-log_alpha))
    np.testing.assert_allclose(gates.deterministic(), np.clip(s * 1.2 - 0.1, 0, 1))


def test_training_gates_draw_exact_zeros_and_ones():
    gates = HardConcreteGates(2000, [1] * 2000, strength=0.1, initial_keep=0.5)
    z = np.asarray(gates(np.ones((1, 2000), "float32"), training=True))[0]
    assert 0 < np.mean(z == 0) < 1 and 0 < np.mean(z == 1) < 1
    assert np.all((z >= 0) & (z <= 1))


def test_fold_keeps_the_gated_models_inference_output():
    model = gated_mlp()
    wrapper = kerasprune.prune_wrappers(model)[0]
    # Half the gates shut for good (deterministic value 0): pruning them changes nothing.
    wrapper.gates.log_alpha.assign(np.array([5, -9, 0.5, -9, 1, -9, 2, -9], "float32"))
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    before = np.asarray(model(x))
    model.compile("sgd", "mse")
    callback = L0PruningCallback(0.5, gate_epochs=1, finetune_epochs=0)
    callback.set_model(model)
    callback.params = {"steps": 1, "epochs": 1}
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {})
    assert channels_kept(wrapper.masks[0].numpy()).tolist() == [True, False] * 4
    assert not wrapper.gates.is_active
    np.testing.assert_allclose(np.asarray(model(x)), before, rtol=1e-5, atol=1e-6)


def test_fit_trains_the_gates_and_ends_at_the_exact_target(digits):
    (x, y), _ = digits
    pruned = compile_classifier(kerasprune.prune(
        small_cnn(), layers=["conv", "hidden"], pattern=kerasprune.Channels(),
        penalty=L0Gates(1e-3)))
    start = [np.asarray(w.gates.log_alpha).copy() for w in kerasprune.prune_wrappers(pruned)]
    callback = L0PruningCallback(0.5, gate_epochs=2, finetune_epochs=1)
    history = pruned.fit(x[:640], y[:640], epochs=3, batch_size=64, callbacks=[callback],
                         verbose=0)
    assert history.history["stage"] == [0, 0, 1]
    assert history.history["expected_density"][0] < 1.0
    assert history.history["expected_density"][-1] == 1.0  # folded
    for wrapper, alpha in zip(kerasprune.prune_wrappers(pruned), start):
        assert not np.array_equal(np.asarray(wrapper.gates.log_alpha), alpha)  # trained
        kept = channels_kept(wrapper.masks[0].numpy())
        assert kept.sum() == kept.size // 2  # 50% of the channels, exactly
    assert kerasprune.shrink(pruned).count_params() < small_cnn().count_params()


def test_bad_arguments_are_refused_before_anything_changes():
    with pytest.raises(ValueError, match="Received: initial_keep=1.0"):
        L0Gates(1e-3, initial_keep=1.0)
    with pytest.raises(ValueError, match="strength"):
        L0Gates(0.0)
    with pytest.raises(ValueError, match="pattern=kerasprune.Channels"):
        kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]),
                         penalty=L0Gates(1e-3))
    with pytest.raises(ValueError, match="linear or ReLU.*'tanh'"):
        kerasprune.prune(keras.Sequential([keras.Input((4,)),
                                           keras.layers.Dense(2, activation="tanh")]),
                         pattern=kerasprune.Channels(), penalty=L0Gates(1e-3))
    with pytest.raises(ValueError, match="gate_epochs"):
        L0PruningCallback(0.5, gate_epochs=0, finetune_epochs=1)


def test_a_model_without_gates_is_refused_at_fit():
    model = kerasprune.prune(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="have none: \\['dense"):
        model.fit(np.ones((4, 4)), np.ones((4, 2)), verbose=0,
                  callbacks=[L0PruningCallback(0.5, gate_epochs=1, finetune_epochs=0)])


def test_gated_model_saves_and_loads(tmp_path):
    model = gated_mlp()
    wrapper = kerasprune.prune_wrappers(model)[0]
    wrapper.gates.log_alpha.assign(np.linspace(-3, 3, 8).astype("float32"))
    x = np.ones((2, 4), "float32")
    model.save(tmp_path / "gated.keras")
    loaded = keras.saving.load_model(tmp_path / "gated.keras")
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert isinstance(kerasprune.prune_wrappers(loaded)[0].penalty, L0Gates)
    config = L0PruningCallback(0.5, gate_epochs=2, finetune_epochs=1).get_config()
    assert L0PruningCallback.from_config(config).get_config() == config
