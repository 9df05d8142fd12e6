"""`quantize_model`: every layer wrapped by its role, masks kept (or made from zeros),
pruning callbacks working on the copy, `strip` removing only the pruning."""

import numpy as np
import pytest
import keras

import kerasprune
from kerasprune.quantization import calibrate, quantize_model, quantize_wrappers
from tests.quantization.helpers import (
    LOSS,
    MasksChecked,
    cnn,
    data,
    masked_weights_are_zero,
    pruned_cnn,
)


def roles(model):
    return {w.inner_layer.name: (w.quantize_inputs, bool(w.output_range), bool(w.quantized_weights))
            for w in quantize_wrappers(model)}


def test_every_layer_is_wrapped_by_its_role():
    assert roles(quantize_model(cnn())) == {
        "conv": (True, True, True), "pool": (False, False, False),
        "squeeze": (False, True, True), "flatten": (False, False, False),
        "hidden": (False, True, True), "logits": (False, True, True)}


def test_functional_layers_reading_a_model_input_quantize_it():
    inputs = keras.Input((8,))
    a, b = keras.layers.Dense(4, name="a")(inputs), keras.layers.Dense(4, name="b")(inputs)
    merged = keras.layers.Add(name="add")([a, b])
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(merged))
    assert roles(quantize_model(model)) == {
        "a": (True, True, True), "b": (True, True, True), "add": (False, True, False),
        "out": (False, True, True)}


def test_a_pruned_model_keeps_its_wrappers_masks_and_weights():
    pruned = pruned_cnn()
    qat = quantize_model(pruned)
    old, new = kerasprune.prune_wrappers(pruned), kerasprune.prune_wrappers(qat)
    assert [w.layer.name for w in new] == ["hidden", "logits"]
    assert all(isinstance(q.layer, kerasprune.PruneWrapper) for q in quantize_wrappers(qat)
               if q.inner_layer.name in ("hidden", "logits"))
    for a, b in zip(old, new):
        assert a.get_config()["pattern"] == b.get_config()["pattern"]
        assert all(np.array_equal(m, n) for m, n in zip(a.masks, b.masks))
        assert np.array_equal(a.layer.kernel, b.layer.kernel)
    assert not quantize_wrappers(pruned)                       # the input is untouched


def test_a_plain_model_keeps_its_zeros_as_masks_unless_asked_not_to():
    plain = kerasprune.strip(pruned_cnn())
    zeros = np.asarray(plain.get_layer("hidden").kernel) == 0
    kept = quantize_model(plain)
    wrapper = {w.layer.name: w for w in kerasprune.prune_wrappers(kept)}["hidden"]
    assert np.array_equal(np.asarray(wrapper.masks[0]) == 0, zeros)
    assert sorted(w.layer.name for w in kerasprune.prune_wrappers(kept)) == ["hidden", "logits"]
    assert kerasprune.prune_wrappers(quantize_model(plain, preserve_sparsity=False)) == []
    assert kerasprune.prune_wrappers(quantize_model(cnn())) == []  # no zeros, no masks


def test_pruning_and_quantization_aware_training_in_one_fit_keep_masks_exact():
    x, y = data()
    qat = quantize_model(kerasprune.prune(cnn(), layers=["hidden", "logits"],
                                          block_shape=(16, 1)))
    qat.compile(keras.optimizers.Adam(0.01), LOSS)
    gmp = kerasprune.PruningCallback(0.75, stabilization_epochs=0, pruning_epochs=2,
                                     finetune_epochs=1, update_every=2)
    checked = MasksChecked()
    history = qat.fit(x, y, batch_size=16, epochs=gmp.total_epochs, callbacks=[gmp, checked],
                      verbose=0)
    assert history.history["sparsity"][-1] == pytest.approx(0.75)
    assert len(checked.checks) == 12 and all(checked.checks)


def test_prune_then_fine_tune_quantization_aware_keeps_masks_exact_every_step():
    x, y = data()
    qat = quantize_model(pruned_cnn())
    calibrate(qat, x)
    qat.compile(keras.optimizers.Adam(0.05), LOSS)
    checked = MasksChecked()
    qat.fit(x, y, batch_size=16, epochs=2, callbacks=[checked], verbose=0)
    assert len(checked.checks) == 8 and all(checked.checks)
    assert kerasprune.sparsity_report(qat).total == pytest.approx(0.75)


def test_strip_removes_the_pruning_and_keeps_the_quantizers():
    x, _ = data(16)
    qat = quantize_model(pruned_cnn())
    calibrate(qat, x)
    stripped = kerasprune.strip(qat)
    assert kerasprune.prune_wrappers(stripped) == []
    assert len(quantize_wrappers(stripped)) == len(quantize_wrappers(qat))
    assert np.array_equal(np.asarray(stripped(x)), np.asarray(qat(x)))


def test_shrink_refuses_pruned_layers_inside_quantize_wrappers_naming_the_order():
    qat = quantize_model(pruned_cnn())
    with pytest.raises(ValueError, match=r"\['quant_hidden', 'quant_logits'\] \(QuantizeWrapper\).*"
                                         r"quantize_model\(kerasprune.shrink\(pruned\)\)"):
        kerasprune.shrink(qat)


def test_what_cannot_be_quantized_is_refused_by_name():
    inputs = keras.Input((4,))
    with_op = keras.Model(inputs, keras.layers.Dense(2)(keras.ops.exp(inputs)))
    lstm = keras.Sequential([keras.Input((3, 4)), keras.layers.LSTM(2, name="rnn")])
    with pytest.raises(ValueError, match=r"rnn \(LSTM\)"):
        quantize_model(lstm)
    with pytest.raises(ValueError, match=r"keras.ops call"):
        quantize_model(with_op)
    with pytest.raises(ValueError, match="already quantization-aware"):
        quantize_model(quantize_model(cnn()))
    nested = keras.Sequential([keras.Input((8, 8, 1)), cnn()])
    with pytest.raises(ValueError, match=r"without nested models.*Received: model"):
        quantize_model(nested)
    with pytest.raises(TypeError, match=r"Received: preserve_sparsity=1"):
        quantize_model(cnn(), preserve_sparsity=1)
