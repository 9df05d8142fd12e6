"""GMP in model.fit: stages, hard masks, logs, learning rates, regularization, bad settings."""

import keras
import numpy as np
import pytest

import kerasprune
from tests.helpers import compile_classifier, masks_of, small_cnn


def _pruned_kernels(model):
    return [np.asarray(v) for w in kerasprune.prune_wrappers(model) for v in w.pruned_weights]


@pytest.mark.parametrize(
    "optimizer",
    [lambda: keras.optimizers.Adam(1e-2), lambda: keras.optimizers.SGD(0.05, momentum=0.9)],
    ids=["adam", "sgd_momentum"],
)
def test_masked_weights_are_exactly_zero_after_fit(optimizer, digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()), optimizer())
    callback = kerasprune.PruningCallback(
        0.8, stabilization_epochs=0, pruning_epochs=2, finetune_epochs=2, update_every=5
    )
    model.fit(x, y, epochs=4, batch_size=64, callbacks=[callback], verbose=0)
    for kernel, mask in zip(_pruned_kernels(model), masks_of(model)):
        assert np.all(kernel[mask == 0] == 0.0)
        # The momentum kept pushing these weights during fine-tuning: they stay zero.
        assert (mask == 0).sum() == round(0.8 * mask.size)


def test_stages_sparsity_and_stage_in_history(digits):
    (x, y), (xt, yt) = digits
    model = compile_classifier(kerasprune.prune(small_cnn()))
    callback = kerasprune.PruningCallback(
        0.9, stabilization_epochs=1, pruning_epochs=3, finetune_epochs=1, initial_sparsity=0.1
    )
    history = model.fit(x, y, epochs=5, batch_size=64, callbacks=[callback], verbose=0)
    assert history.history["stage"] == [0, 1, 1, 1, 2]
    sparsity = history.history["sparsity"]
    assert sparsity[0] == 0.0
    assert sparsity[1] == pytest.approx(0.1, abs=1e-3)
    assert sparsity[1] < sparsity[2] < sparsity[3]
    assert sparsity[3] == pytest.approx(0.9, abs=1e-3) and sparsity[4] == sparsity[3]
    assert _exactly_pruned(model, 0.9)
    # Cubic schedule: the middle update is s_f + (s_i - s_f) * (1 - 1/2)^3.
    assert sparsity[2] == pytest.approx(0.9 + (0.1 - 0.9) * 0.125, abs=1e-3)
    _, accuracy = model.evaluate(xt, yt, verbose=0)
    assert accuracy > 0.6  # 90% of a tiny CNN pruned on 7x7 digits (dense: 0.89, chance: 0.1)


class EveryStep(kerasprune.SparsitySchedule):
    """A user's schedule that asks for an update at every step, its target rising with
    the step: it would keep pruning in any stage the callback let it."""

    begin_step = end_step = 0
    frequency = 1

    def __init__(self, per_step):
        self.per_step = per_step

    def updates_at(self, step):
        return True

    def __call__(self, step):
        return min(0.9, self.per_step * (step + 1))


def _exactly_pruned(model, sparsity):
    """Every pruned kernel (layer scope) has exactly round(sparsity * size) zeros."""
    return all(row.size - row.nonzeros == round(sparsity * row.size)
               for row in kerasprune.sparsity_report(model).rows)


def test_masks_frozen_during_finetuning(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()))
    # 4 steps per epoch: the schedule asks 0.1..0.4 in the pruning epoch, then 0.5..0.9.
    callback = kerasprune.PruningCallback(
        0.4, stabilization_epochs=0, pruning_epochs=1, finetune_epochs=2,
        schedule=EveryStep(0.1),
    )
    seen = []
    snapshot = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, l: seen.append(masks_of(model)))
    history = model.fit(x[:256], y[:256], epochs=3, batch_size=64,
                        callbacks=[callback, snapshot], verbose=0)
    assert history.history["stage"] == [1, 2, 2]
    assert _exactly_pruned(model, 0.4)
    for epoch in (1, 2):
        for a, b in zip(seen[0], seen[epoch]):
            np.testing.assert_array_equal(a, b)
    for kernel, mask in zip(_pruned_kernels(model), masks_of(model)):
        assert np.all(kernel[mask == 0] == 0.0)


def test_global_scope_reaches_the_overall_target(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn(), scope="global"))
    callback = kerasprune.PruningCallback(0.75, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=0)
    model.fit(x, y, epochs=2, batch_size=64, callbacks=[callback], verbose=0)
    report = kerasprune.sparsity_report(model)
    total = sum(r.size for r in report.rows)
    assert sum(r.size - r.nonzeros for r in report.rows) == round(0.75 * total)


def test_learning_rates_and_regularization_removed_for_finetuning(digits):
    (x, y), _ = digits
    base = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(10, kernel_regularizer=keras.regularizers.L2(0.1))])
    model = compile_classifier(kerasprune.prune(base), keras.optimizers.AdamW(1e-2, weight_decay=0.1))
    callback = kerasprune.PruningCallback(
        0.5, stabilization_epochs=1, pruning_epochs=1, finetune_epochs=2,
        pruning_learning_rate=0.02, finetune_learning_rates=[1e-3, 1e-4],
        remove_regularization=True,
    )
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, l: rates.append(float(model.optimizer.learning_rate)))
    history = model.fit(x, y, epochs=4, batch_size=64, callbacks=[callback, record], verbose=0)
    assert rates == pytest.approx([0.02, 0.02, 1e-3, 1e-4])
    assert model.optimizer.weight_decay == 0.0
    assert not model.losses  # no regularization loss left
    # The total loss dropped sharply once the L2 term was gone.
    assert history.history["loss"][2] < history.history["loss"][1]


def test_resumed_fit_continues_the_schedule(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()))
    callback = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=3,
                                          finetune_epochs=1, initial_sparsity=0.2)
    # The first run is interrupted after two epochs (as by a crash or a time limit).
    stop = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, l: setattr(model, "stop_training", e == 1))
    model.fit(x, y, epochs=4, batch_size=64, callbacks=[callback, stop], verbose=0)
    first = kerasprune.sparsity_report(model).total
    history = model.fit(x, y, epochs=4, initial_epoch=2, batch_size=64,
                        callbacks=[callback], verbose=0)
    assert first < 0.8
    assert history.history["sparsity"] == pytest.approx([0.8, 0.8], abs=1e-3)
    assert _exactly_pruned(model, 0.8)


BAD_SETTINGS = [
    (dict(target_sparsity=1.0), "`target_sparsity` must be a float in \\[0, 1\\)"),
    (dict(target_sparsity=-0.1), "`target_sparsity` must be"),
    (dict(initial_sparsity=0.95), "`initial_sparsity` must be <= `target_sparsity`"),
    (dict(pruning_epochs=0), "`pruning_epochs` must be an int >= 1"),
    (dict(stabilization_epochs=1.5), "`stabilization_epochs` must be an int"),
    (dict(update_every="batch"), "`update_every` must be 'epoch' or an int"),
    (dict(update_every=0), "`update_every` must be"),
    (dict(schedule="quadratic"), "`schedule` must be"),
    (dict(finetune_learning_rates=[-1.0]), "`finetune_learning_rates` must be"),
]


@pytest.mark.parametrize("change, message", BAD_SETTINGS)
def test_bad_callback_settings_raise_at_construction(change, message):
    kwargs = dict(target_sparsity=0.9, stabilization_epochs=0, pruning_epochs=2, finetune_epochs=0)
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        kerasprune.PruningCallback(**kwargs)


def _fit_expecting(error_match, callback, epochs=2, model=None, batch_size=64, others=()):
    x = np.random.rand(128, 7, 7, 1).astype("float32")
    y = np.random.randint(0, 10, 128)
    model = model or compile_classifier(kerasprune.prune(small_cnn()))
    before = {w.path: np.asarray(w).copy() for w in model.weights}
    with pytest.raises(ValueError, match=error_match):
        model.fit(x, y, epochs=epochs, batch_size=batch_size, callbacks=[callback, *others],
                  verbose=0)
    # Refused before the first step: nothing was trained or pruned (a resume state, all
    # zeros, may have been attached to receive a restored run).
    after = {w.path: np.asarray(w) for w in model.weights}
    assert set(before) <= set(after)
    for path, value in before.items():
        np.testing.assert_array_equal(value, after[path])


def test_frequency_longer_than_pruning_stage_is_refused_before_training():
    callback = kerasprune.PruningCallback(0.9, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1, update_every=100)
    _fit_expecting("masks would never be updated", callback)


def test_part_of_a_run_is_allowed_and_warns_that_the_target_is_not_reached():
    callback = kerasprune.PruningCallback(0.9, stabilization_epochs=1, pruning_epochs=2,
                                          finetune_epochs=1)
    x = np.random.rand(128, 7, 7, 1).astype("float32")
    y = np.random.randint(0, 10, 128)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    with pytest.warns(UserWarning, match=r"sparsity 0\.\d+, not the target 0\.9"):
        model.fit(x, y, epochs=2, callbacks=[callback], verbose=0)
    history = model.fit(x, y, initial_epoch=2, epochs=4, callbacks=[callback], verbose=0)
    assert history.history["stage"] == [1, 2]
    assert history.history["sparsity"][-1] == pytest.approx(0.9, abs=1e-3)


def test_unpruned_model_is_refused_before_training():
    callback = kerasprune.PruningCallback(0.9, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=0)
    _fit_expecting("kerasprune.prune", callback, model=compile_classifier(small_cnn()))


def test_custom_schedule_object_is_used():
    # from the epoch's second step (64 samples, batches of 32), held after: no end_step needed
    schedule = kerasprune.ConstantSparsity(0.6, begin_step=1)
    callback = kerasprune.PruningCallback(0.6, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=0, schedule=schedule)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    model.fit(np.random.rand(64, 7, 7, 1), np.random.randint(0, 10, 64), epochs=1,
              callbacks=[callback], verbose=0)
    assert _exactly_pruned(model, 0.6)


def test_learning_rate_options_with_a_keras_rate_callback_are_refused_before_training():
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=1, pruning_epochs=1,
                                          finetune_epochs=0, pruning_learning_rate=0.01)
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, rate: 0.5)
    _fit_expecting(r"PruningCallback sets the learning rate \(`pruning_learning_rate` / "
                   r"`finetune_learning_rates`\), and so does LearningRateScheduler in the "
                   "same fit", callback, others=[scheduler])


def test_learning_rate_options_with_a_schedule_optimizer_are_refused_before_training():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, 10, 0.9)
    model = compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.Adam(schedule))
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1, finetune_learning_rates=[1e-4])
    _fit_expecting(r"sets the learning rate \(`pruning_learning_rate` / "
                   r"`finetune_learning_rates`\), but the optimizer was created with a "
                   "LearningRateSchedule", callback, model=model)


def test_custom_schedule_starting_before_the_pruning_stage_waits_for_it(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()))
    # Steps 0-3 are stabilization; the schedule asks 0.1..0.4 there, 0.5..0.8 after.
    callback = kerasprune.PruningCallback(
        0.8, stabilization_epochs=1, pruning_epochs=1, finetune_epochs=0,
        schedule=EveryStep(0.1),
    )
    history = model.fit(x[:256], y[:256], epochs=2, batch_size=64, callbacks=[callback],
                        verbose=0)
    assert history.history["stage"] == [0, 1]
    assert history.history["sparsity"][0] == 0.0
    assert _exactly_pruned(model, 0.8)


@pytest.mark.parametrize("rates, expected", [
    ([1e-2, 1e-3, 1e-4], [1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4]),
    # 6 epochs in 4 parts of 1.5 epochs: each epoch takes the rate of the part it starts in
    ([1e-2, 1e-3, 1e-4, 1e-5], [1e-2, 1e-2, 1e-3, 1e-4, 1e-4, 1e-5]),
])
def test_finetune_learning_rates_split_the_stage_into_equal_parts(rates, expected, digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.SGD(0.5))
    callback = kerasprune.PruningCallback(
        0.5, stabilization_epochs=0, pruning_epochs=1, finetune_epochs=6,
        pruning_learning_rate=0.05, finetune_learning_rates=rates,
    )
    history = model.fit(x[:128], y[:128], epochs=7, batch_size=64, callbacks=[callback],
                        verbose=0)
    assert history.history["learning_rate"] == pytest.approx([0.05, *expected])


def test_fit_resumed_into_finetuning_catches_up_to_the_target(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()))
    callback = kerasprune.PruningCallback(0.8, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=1, initial_sparsity=0.2)
    # Stopped after the first pruning epoch; resumed at the first fine-tuning epoch, so
    # the pruning stage's last update (to the target) never ran.
    with pytest.warns(UserWarning, match="not the target 0.8"):
        model.fit(x[:256], y[:256], epochs=1, batch_size=64, callbacks=[callback], verbose=0)
    assert _exactly_pruned(model, 0.2)
    history = model.fit(x[:256], y[:256], initial_epoch=2, epochs=3, batch_size=64,
                        callbacks=[callback], verbose=0)
    assert history.history["stage"] == [2]
    assert _exactly_pruned(model, 0.8)
    for kernel, mask in zip(_pruned_kernels(model), masks_of(model)):
        assert np.all(kernel[mask == 0] == 0.0)


@pytest.mark.parametrize("remove", [True, False])
def test_remove_regularization_changes_the_compiled_training_loss(remove, digits):
    (x, y), _ = digits
    x, y = x[:256], y[:256]
    base = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(10, kernel_regularizer=keras.regularizers.L2(1.0))])
    # Learning rate 0: the weights change only by pruning (at the first step), so each
    # epoch's loss is the data loss plus, while it is on, the L2 term of the kernel.
    model = compile_classifier(kerasprune.prune(base), keras.optimizers.SGD(0.0))
    callback = kerasprune.PruningCallback(
        0.5, stabilization_epochs=0, pruning_epochs=1, finetune_epochs=1, schedule="one_shot",
        remove_regularization=remove,
    )
    history = model.fit(x, y, epochs=2, batch_size=64, callbacks=[callback], verbose=0)
    logits = model.predict(x, verbose=0)
    data_loss = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits))
    kernel = _pruned_kernels(model)[0]
    l2 = float(np.sum(np.square(kernel)))
    assert l2 > 1.0  # large next to the data loss: the check can tell
    assert history.history["loss"][0] == pytest.approx(data_loss + l2, rel=1e-4)
    expected = data_loss if remove else data_loss + l2
    assert history.history["loss"][1] == pytest.approx(expected, rel=1e-4)



def test_update_every_as_long_as_the_pruning_stage_prunes_once_to_the_target():
    x = np.random.rand(48, 7, 7, 1).astype("float32")
    y = np.random.randint(0, 10, 48)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    callback = kerasprune.PruningCallback(0.6, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1, update_every=3)
    history = model.fit(x, y, epochs=2, batch_size=16, callbacks=[callback],
                        verbose=0)  # 3 steps per epoch
    assert history.history["sparsity"] == [pytest.approx(0.6, abs=1e-3)] * 2
    assert _exactly_pruned(model, 0.6)


def test_a_custom_schedule_must_end_within_the_pruning_stage_at_the_target_at_most():
    # 2 steps per epoch (128 samples, batches of 64), one pruning epoch: it ends at step 2
    stages = dict(stabilization_epochs=0, pruning_epochs=1, finetune_epochs=1)
    late = kerasprune.ConstantSparsity(0.5, begin_step=0, end_step=3)
    _fit_expecting(r"The schedule ends at step 3, after the pruning stage ends \(step 2 = 2 "
                   r"steps x 1 epochs\)", kerasprune.PruningCallback(0.5, schedule=late, **stages))
    above = kerasprune.PolynomialDecay(0.1, 0.6, begin_step=0, end_step=1, frequency=1)
    _fit_expecting(r"ends at sparsity 0\.6\d*, above `target_sparsity`=0\.55",
                   kerasprune.PruningCallback(0.55, schedule=above, **stages))
    # ending below the target would jump the masks to it when fine-tuning starts
    below = kerasprune.ConstantSparsity(0.5, begin_step=0, end_step=2)
    _fit_expecting(r"ends at sparsity 0\.5, below `target_sparsity`=0\.8",
                   kerasprune.PruningCallback(0.8, schedule=below, **stages))
    # at the stage's last step, to the target exactly: accepted
    on_time = kerasprune.PolynomialDecay(0.1, 0.6, begin_step=0, end_step=2, frequency=1)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    model.fit(np.random.rand(128, 7, 7, 1), np.random.randint(0, 10, 128), batch_size=64,
              epochs=2, verbose=0,
              callbacks=[kerasprune.PruningCallback(0.6, schedule=on_time, **stages)])
    assert _exactly_pruned(model, 0.6)


def test_removed_regularizers_are_gone_from_the_layers_configs_too(tmp_path):
    # so that the saved fine-tuned model does not bring them back when loaded
    l2 = keras.regularizers.L2(0.1)
    base = keras.Sequential([
        keras.Input((4, 4, 2)),
        keras.layers.DepthwiseConv2D(3, padding="same", depthwise_regularizer=l2, name="dw"),
        keras.layers.SeparableConv2D(4, 3, depthwise_regularizer=l2, pointwise_regularizer=l2,
                                     name="sep"),
        keras.layers.Flatten(), keras.layers.Dense(3, kernel_regularizer=l2, name="fc")])
    model = kerasprune.prune(base)
    model.compile("sgd", "mse")
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1, remove_regularization=True)
    model.fit(np.ones((8, 4, 4, 2)), np.ones((8, 3)), epochs=2, batch_size=4,
              callbacks=[callback], verbose=0)
    model.save(tmp_path / "tuned.keras")
    loaded = kerasprune.strip(keras.saving.load_model(tmp_path / "tuned.keras"))
    for name in ("dw", "sep", "fc"):
        config = loaded.get_layer(name).get_config()
        assert [key for key, value in config.items()
                if key.endswith("_regularizer") and value is not None] == [], name


def test_an_embeddings_regularizer_is_removed_from_the_layer_too():
    base = keras.Sequential([
        keras.Input((3,), dtype="int32"),
        keras.layers.Embedding(10, 4, embeddings_regularizer=keras.regularizers.L2(0.1),
                               name="emb"),
        keras.layers.Flatten(), keras.layers.Dense(2, name="fc")])
    model = kerasprune.prune(base)
    model.compile("sgd", "mse")
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1, remove_regularization=True)
    x = np.arange(24).reshape(8, 3) % 10
    model.fit(x, np.ones((8, 2)), epochs=2, batch_size=4, callbacks=[callback], verbose=0)
    assert not model.losses
    stripped = kerasprune.strip(model)
    assert stripped.get_layer("emb").get_config()["embeddings_regularizer"] is None


def _fit_removing_regularization(model):
    callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                          finetune_epochs=1, remove_regularization=True)
    x, y = np.random.rand(16, 8).astype("float32"), np.random.randint(0, 3, 16)
    model.fit(x, y, epochs=2, batch_size=8, callbacks=[callback], verbose=0)


def test_a_model_whose_weight_decay_was_removed_saves_and_loads(tmp_path):
    model = kerasprune.prune(keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(3)]))
    model.compile(keras.optimizers.AdamW(1e-3), "sparse_categorical_crossentropy")
    _fit_removing_regularization(model)
    model.save(tmp_path / "tuned.keras")
    loaded = keras.saving.load_model(tmp_path / "tuned.keras")
    assert loaded.optimizer.weight_decay == 0.0


def test_weight_decay_is_removed_from_the_optimizer_under_a_loss_scale_optimizer():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = kerasprune.prune(keras.Sequential([
            keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(3, dtype="float32")]))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(keras.optimizers.AdamW(1e-3, weight_decay=0.05),
                  "sparse_categorical_crossentropy")
    _fit_removing_regularization(model)
    assert model.optimizer.inner_optimizer.weight_decay == 0.0
