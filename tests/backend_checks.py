"""kerasprune end to end on the backend in KERAS_BACKEND, run as `python -m tests.backend_checks`.

The suite runs on TensorFlow; tests/test_backends.py runs this module in a child process
with KERAS_BACKEND=jax. Each check asserts; the module prints `PASS name` or `FAIL name`
with the traceback, one line per check, and exits non-zero if any failed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: XLA flags for the JAX child processes: their models are tiny and run a few steps, so
#: compiling (LLVM's optimization passes) costs far more than running; this halves their time.
QUICK_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasprune  # noqa: E402
from examples.datasets import load_embedded_mnist  # noqa: E402

(X, Y), _ = load_embedded_mnist(pool=4)
X, Y = X[:256], Y[:256]
SEQ = X[..., 0]  # 7 steps of 7 features


def mixed_model() -> keras.Model:
    """Conv, attention, LSTM and Dense on 7x7 digits: one layer of each family."""
    inputs = keras.Input((7, 7, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Reshape((7, 56))(x)
    x = keras.layers.MultiHeadAttention(2, 8, name="mha")(x, x)
    x = keras.layers.LSTM(16, name="lstm")(x)
    outputs = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs)


def cnn() -> keras.Model:
    return keras.Sequential([
        keras.Input((7, 7, 1)),
        keras.layers.Conv2D(16, 3, activation="relu", name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu", name="hidden"),
        keras.layers.Dense(10, name="logits"),
    ])


def compiled(model, optimizer=None):
    model.compile(optimizer or keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def kernels_and_masks(model):
    return [(np.asarray(v), np.asarray(m)) for w in kerasprune.prune_wrappers(model)
            for v, m in zip(w.pruned_weights, w.masks)]


def check_gmp_masks_strip_and_saving():
    pruned = compiled(kerasprune.prune(mixed_model()))
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=1)
    history = pruned.fit(X, Y, batch_size=64, epochs=2, callbacks=[gmp], verbose=0)
    assert history.history["sparsity"] == [0.5, 0.5], history.history
    rows = kerasprune.sparsity_report(pruned).as_dict()
    assert len(rows) == 8 and all(abs(s - 0.5) <= 0.02 for s in rows.values()), rows
    for kernel, mask in kernels_and_masks(pruned):
        assert np.all(kernel[mask == 0] == 0)  # hard masks after Adam's fine-tuning steps
    expected = np.asarray(pruned(X[:16]))
    np.testing.assert_array_equal(np.asarray(kerasprune.strip(pruned)(X[:16])), expected)
    with tempfile.TemporaryDirectory() as folder:
        pruned.save(os.path.join(folder, "pruned.keras"))
        loaded = keras.saving.load_model(os.path.join(folder, "pruned.keras"))
    np.testing.assert_array_equal(np.asarray(loaded(X[:16])), expected)
    for (k1, m1), (k2, m2) in zip(kernels_and_masks(pruned), kernels_and_masks(loaded)):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(k1, k2)


def check_imp_resumes_exactly_from_a_saved_model():
    def run(epochs, model=None, initial_epoch=0):
        model = model or compiled(kerasprune.prune(cnn(), scope="global"),
                                  keras.optimizers.SGD(0.05, momentum=0.9))
        imp = kerasprune.IMPCallback(0.75, cycles=2, epochs_per_cycle=1, dense_epochs=1,
                                     retrain_schedule="allr", original_learning_rate=0.05,
                                     rewind_epoch=1)
        model.fit(X, Y, batch_size=64, epochs=epochs, initial_epoch=initial_epoch,
                  callbacks=[imp], verbose=0, shuffle=False)
        return model

    keras.utils.set_random_seed(1)
    whole = run(3)
    keras.utils.set_random_seed(1)
    first = run(2)
    with tempfile.TemporaryDirectory() as folder:
        first.save(os.path.join(folder, "half.keras"))
        resumed = keras.saving.load_model(os.path.join(folder, "half.keras"))
    resumed = run(3, resumed, initial_epoch=2)
    assert abs(kerasprune.sparsity_report(whole).total - 0.75) < 1e-3
    for (k1, m1), (k2, m2) in zip(kernels_and_masks(whole), kernels_and_masks(resumed)):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_allclose(k1, k2, atol=1e-6)


def check_bimp_reaches_its_target():
    model = compiled(kerasprune.prune(cnn(), scope="global"),
                     keras.optimizers.SGD(0.05, momentum=0.9))
    bimp = kerasprune.BIMPCallback(0.6, total_epochs=3, dense_epochs=1, cycles=2)
    history = model.fit(X, Y, batch_size=64, epochs=3, callbacks=[bimp], verbose=0)
    assert abs(history.history["sparsity"][-1] - 0.6) < 1e-3, history.history


def check_channels_taylor_and_shrink():
    pruned = compiled(kerasprune.prune(cnn(), pattern=kerasprune.Channels("taylor"),
                                       exclude=["logits"]))
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=1,
                                     data=kerasprune.CriterionData(X[:128], Y[:128]))
    pruned.fit(X, Y, batch_size=64, epochs=2, callbacks=[gmp], verbose=0)
    small = kerasprune.shrink(pruned)
    widths = [layer.filters if hasattr(layer, "filters") else layer.units
              for layer in small.layers if hasattr(layer, "kernel")]
    assert widths == [8, 16, 10], widths
    np.testing.assert_allclose(np.asarray(small(X[:16])), np.asarray(pruned(X[:16])),
                               atol=1e-5)


def check_one_shot_criteria_from_calibration_data():
    dense = compiled(cnn())
    dense.fit(X, Y, batch_size=64, epochs=1, verbose=0)
    errors = {}
    for criterion in ("magnitude", "wanda", "obd", "sparsegpt"):
        pruned = kerasprune.one_shot_prune(dense, 0.7, criterion=criterion, data=(X[:128],))
        assert abs(kerasprune.sparsity_report(pruned).total - 0.7) < 1e-3, criterion
        errors[criterion] = float(np.mean(np.square(np.asarray(pruned(X[:128]))
                                                    - np.asarray(dense(X[:128])))))
    assert errors["sparsegpt"] < errors["magnitude"], errors
    two_four = kerasprune.one_shot_prune(dense, 0.5, criterion="sparsegpt", data=(X[:128],),
                                         pattern=kerasprune.NM(2, 4), exclude=["conv"])
    for wrapper in kerasprune.prune_wrappers(two_four):
        runs = np.moveaxis(np.asarray(wrapper.masks[0]), -2, -1).reshape(-1, 4)
        assert np.all(runs.sum(axis=1) == 2), wrapper.name
    channels = kerasprune.one_shot_prune(dense, 0.5, pattern=kerasprune.Channels(),
                                         exclude=["logits"], data=(X[:256],), reconstruct=True)
    small = kerasprune.shrink(channels)
    np.testing.assert_allclose(np.asarray(small(X[:16])), np.asarray(channels(X[:16])),
                               atol=1e-4)


def check_export_says_it_needs_tensorflow():
    import tflite_export

    try:
        tflite_export.convert(cnn())
    except ValueError as error:
        assert "TensorFlow backend" in str(error), error
    else:
        raise AssertionError("convert() accepted a model on another backend")


def check_tfmot_steps_and_masks_in_a_jitted_fit():
    import kerasprune.tfmot as tfmot

    sk = tfmot.sparsity.keras
    model = compiled(sk.prune_low_magnitude(
        cnn(), pruning_schedule=sk.PolynomialDecay(0.2, 0.6, begin_step=1, end_step=6,
                                                   frequency=1)))
    model.fit(X, Y, batch_size=64, epochs=2, verbose=0, callbacks=[sk.UpdatePruningStep()])
    wrappers = [w for w in model.layers if w.pruning_vars]
    assert [w.current_step() for w in wrappers] == [8] * 3  # counted in the jitted step
    for weight, mask in kernels_and_masks(model):
        assert np.mean(mask == 0) == np.mean(weight == 0) and abs(np.mean(mask == 0) - 0.6) < 0.01


def check_quantization_aware_training_keeps_masks_and_saves():
    from kerasprune.quantization import calibrate, quantize_model, quantize_wrappers

    qat = compiled(quantize_model(kerasprune.prune(cnn(), layers=["hidden", "logits"])))
    calibrate(qat, X[:64], batch_size=64)
    gmp = kerasprune.PruningCallback(0.75, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=1)
    history = qat.fit(X, Y, batch_size=64, epochs=2, callbacks=[gmp], verbose=0)
    assert history.history["sparsity"] == [0.75, 0.75], history.history
    for kernel, mask in kernels_and_masks(qat):
        assert np.all(kernel[mask == 0] == 0)  # masks exact through quantization-aware steps
    counts = {int(r.observed) for w in quantize_wrappers(qat) for r in w.ranges}
    assert counts == {1 + 8}, counts  # one calibration batch, then every training step
    expected = np.asarray(qat(X[:16]))
    with tempfile.TemporaryDirectory() as folder:
        qat.save(os.path.join(folder, "qat.keras"))
        loaded = keras.saving.load_model(os.path.join(folder, "qat.keras"))
    np.testing.assert_array_equal(np.asarray(loaded(X[:16])), expected)
    np.testing.assert_array_equal(np.asarray(kerasprune.strip(qat)(X[:16])), expected)


def check_distillation_adds_the_teacher_loss():
    from kerasprune.callbacks.distillation import Distillation, soft_kl

    teacher, student = cnn(), compiled(kerasprune.prune(cnn()), keras.optimizers.SGD(0.0))
    plain = student.evaluate(X[:64], Y[:64], batch_size=64, verbose=0)
    kl = float(soft_kl(np.asarray(teacher(X[:64])), np.asarray(student(X[:64])), 2.0))
    history = student.fit(X[:64], Y[:64], batch_size=64, epochs=1, verbose=0,
                          callbacks=[Distillation(teacher, temperature=2.0, weight=0.5)])
    np.testing.assert_allclose(history.history["loss"][0], plain + 0.5 * 4.0 * kl, rtol=1e-4)


def check_movement_scores_follow_the_sgd_steps_and_reach_the_target():
    from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback

    # The closed form on a linear model: S = -lr * sum_t w_t * dL/dw_t over 2 full-batch steps.
    x, y = X[:16].reshape(16, -1)[:, :3], np.eye(2, dtype="float32")[Y[:16] % 2]
    model = kerasprune.prune(keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, use_bias=False)]))
    kernel = model.layers[0].layer.kernel
    w, expected = np.asarray(kernel).astype(np.float64), 0.0
    model.compile(keras.optimizers.SGD(0.05), "mse")
    callback = MovementPruningCallback(0.5, stabilization_epochs=0, pruning_epochs=2,
                                       finetune_epochs=1)
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, callbacks=[callback], verbose=0)
    for _ in range(2):
        gradient = 2 * x.T.astype(np.float64) @ (x @ w - y) / y.size
        expected, w = expected - 0.05 * w * gradient, w - 0.05 * gradient
    np.testing.assert_allclose(callback.scores[kernel.path], expected, rtol=1e-4, atol=1e-7)
    # On a CNN, with masks updated every 2 steps (mid-epoch), the exact target.
    pruned = compiled(kerasprune.prune(cnn()))
    callback = MovementPruningCallback(0.9, stabilization_epochs=0, pruning_epochs=1,
                                       finetune_epochs=1, update_every=2)
    history = pruned.fit(X, Y, batch_size=64, epochs=2, callbacks=[callback], verbose=0)
    assert abs(history.history["sparsity"][-1] - 0.9) < 1e-3, history.history


def check_l0_gates_train_and_fold_into_hard_masks():
    from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback
    from kerasprune.core.l0_gates import L0Gates

    pruned = compiled(kerasprune.prune(cnn(), layers=["conv", "hidden"],
                                       pattern=kerasprune.Channels(), penalty=L0Gates(1e-3)))
    wrappers = kerasprune.prune_wrappers(pruned)
    start = [np.asarray(w.gates.log_alpha).copy() for w in wrappers]
    history = pruned.fit(X, Y, batch_size=64, epochs=3, verbose=0,
                         callbacks=[L0PruningCallback(0.5, gate_epochs=2, finetune_epochs=1)])
    assert history.history["expected_density"][-1] == 1.0, history.history
    for wrapper, alpha in zip(wrappers, start):
        assert not np.array_equal(np.asarray(wrapper.gates.log_alpha), alpha)
        kept = np.asarray(wrapper.masks[0]).reshape(-1, np.shape(wrapper.masks[0])[-1]).any(0)
        assert kept.sum() == kept.size // 2, kept


def check_new_criteria_inside_fit():
    """GraSP and SynFlow score inside a GMP fit: their gradients (finite-difference H g,
    dR/dw) run on this backend (second-order Taylor reads the loss gradients Taylor does)."""
    data = kerasprune.CriterionData(X[:128], Y[:128])
    for options in ({"criterion": "grasp"}, {"criterion": "synflow"}):
        pruned = compiled(kerasprune.prune(cnn(), **options))
        gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                         finetune_epochs=0, update_every=2, data=data)
        pruned.fit(X, Y, batch_size=64, epochs=1, callbacks=[gmp], verbose=0)
        reached = kerasprune.sparsity_report(pruned).total
        assert 0.45 < reached < 0.55, (options, reached)
        assert np.isfinite(np.asarray(pruned(X[:8]))).all(), options


CHECKS = [
    check_gmp_masks_strip_and_saving,
    check_imp_resumes_exactly_from_a_saved_model,
    check_bimp_reaches_its_target,
    check_channels_taylor_and_shrink,
    check_one_shot_criteria_from_calibration_data,
    check_export_says_it_needs_tensorflow,
    check_tfmot_steps_and_masks_in_a_jitted_fit,
    check_quantization_aware_training_keeps_masks_and_saves,
    check_distillation_adds_the_teacher_loss,
    check_movement_scores_follow_the_sgd_steps_and_reach_the_target,
    check_l0_gates_train_and_fold_into_hard_masks,
    check_new_criteria_inside_fit,
]


def main(names: list[str]) -> int:
    failed = 0
    for check in CHECKS:
        if names and check.__name__ not in names:
            continue
        keras.utils.set_random_seed(0)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            check()
            print(f"PASS {check.__name__} {time.perf_counter() - start:.1f}s wall, "
                  f"{time.process_time() - cpu:.1f}s CPU", flush=True)
        except Exception:  # report every check, then fail
            failed += 1
            print(f"FAIL {check.__name__}\n{traceback.format_exc()}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
