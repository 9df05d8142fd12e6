"""`Distillation`: the teacher's KL term (and feature term) on top of the model's loss, in
training steps only, next to every pruning callback, in recipes, across a resume."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.callbacks.distillation import Distillation, soft_kl
from kerasprune.recipe import Recipe
from tests.helpers import compile_classifier, small_cnn


def kl_numpy(teacher, student, temperature):
    def softmax(z):
        z = z / temperature
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p, q = softmax(teacher), softmax(student)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), -1)))


def frozen_student(seed=1):
    """A CNN of the teacher's shape, other weights, compiled with a learning rate of 0:
    one step's loss is then exactly computable from the weights."""
    keras.utils.set_random_seed(seed)
    return compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.SGD(0.0))


def test_soft_kl_matches_its_definition():
    rng = np.random.default_rng(0)
    teacher, student = rng.normal(size=(5, 10)), rng.normal(size=(5, 10))
    assert float(soft_kl(teacher, student, 3.0)) == pytest.approx(
        kl_numpy(teacher, student, 3.0), rel=1e-5)
    assert float(soft_kl(teacher, teacher, 3.0)) == pytest.approx(0.0, abs=1e-7)


def test_the_training_loss_gains_the_weighted_kl_and_evaluation_does_not(digits):
    (x, y), (xt, yt) = digits
    x, y = x[:64], y[:64]
    teacher = small_cnn()
    student = frozen_student()
    plain = student.evaluate(x, y, batch_size=64, verbose=0)[0]
    kl = kl_numpy(np.asarray(teacher(x)), np.asarray(student(x)), 2.0)
    distill = Distillation(teacher, temperature=2.0, weight=0.5)
    history = student.fit(x, y, batch_size=64, epochs=1, validation_data=(xt[:64], yt[:64]),
                          callbacks=[distill], verbose=0)
    assert history.history["loss"][0] == pytest.approx(plain + 0.5 * 4.0 * kl, rel=1e-4)
    assert history.history["val_loss"][0] == pytest.approx(
        student.evaluate(xt[:64], yt[:64], verbose=0)[0], rel=1e-5)
    assert "compute_loss" not in vars(student)  # the model's own loss again after the fit
    again = student.fit(x, y, batch_size=64, epochs=1, verbose=0)
    assert again.history["loss"][0] == pytest.approx(plain, rel=1e-4)


def test_the_teacher_teaches_in_inference_mode_from_the_dense_weights(digits):
    """Dropout off and BatchNorm on its moving statistics: the soft targets are the dense
    model's deterministic predictions, and teaching moves none of its weights."""
    (x, y), _ = digits
    x, y = x[:64], y[:64]
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([
        keras.Input((7, 7, 1)), keras.layers.Conv2D(8, 3, name="conv"),
        keras.layers.BatchNormalization(name="bn"), keras.layers.Flatten(),
        keras.layers.Dropout(0.5), keras.layers.Dense(10, name="logits")])
    before = [np.array(w) for w in teacher.weights]
    student = compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.SGD(0.0))
    plain = student.evaluate(x, y, batch_size=64, verbose=0)[0]
    kl = kl_numpy(np.asarray(teacher(x, training=False)), np.asarray(student(x)), 4.0)
    history = student.fit(x, y, batch_size=64, epochs=1, verbose=0,
                          callbacks=[Distillation(teacher, temperature=4.0)])
    assert history.history["loss"][0] == pytest.approx(plain + 16.0 * kl, rel=1e-4)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, teacher.weights))


def test_features_add_the_mean_squared_difference_of_the_named_layers(digits):
    (x, y), _ = digits
    x, y = x[:64], y[:64]
    teacher = small_cnn()
    student = frozen_student()
    plain = student.evaluate(x, y, batch_size=64, verbose=0)[0]
    hidden = [keras.Model(m.inputs, m.get_layer(name).output) for m, name in
              ((teacher, "hidden"), (student, "prune_hidden"))]
    mse = float(np.mean((np.asarray(hidden[0](x)) - np.asarray(hidden[1](x))) ** 2))
    distill = Distillation(teacher, weight=0.0, features=["hidden"], feature_weight=3.0)
    history = student.fit(x, y, batch_size=64, epochs=1, callbacks=[distill], verbose=0)
    assert history.history["loss"][0] == pytest.approx(plain + 3.0 * mse, rel=1e-4)


@pytest.mark.parametrize("make", [
    lambda d: kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                         finetune_epochs=1),
    lambda d: kerasprune.IMPCallback(0.5, cycles=1, epochs_per_cycle=2,
                                     original_learning_rate=0.01, original_epochs=4),
    lambda d: kerasprune.BIMPCallback(0.5, total_epochs=2, dense_epochs=1, cycles=1),
    lambda d: kerasprune.RigLCallback(0.5, data=kerasprune.CriterionData(*d), update_every=2),
    lambda d: kerasprune.PenaltyPruningCallback(1e-3, penalty_epochs=1, finetune_epochs=1,
                                                target_sparsity=0.5),
], ids=["gmp", "imp", "bimp", "rigl", "penalty"])
def test_every_pruning_callback_runs_with_a_teacher(make, digits):
    (x, y), _ = digits
    x, y = x[:256], y[:256]
    teacher = compile_classifier(small_cnn())
    model = kerasprune.prune(teacher, scope="global", penalty=1e-4)
    model.compile(keras.optimizers.SGD(0.01), teacher.loss, metrics=["accuracy"])
    callback = make((x, y))
    epochs = getattr(callback, "total_epochs", 2)
    history = model.fit(x, y, batch_size=64, epochs=epochs, verbose=0,
                        callbacks=[callback, Distillation(teacher, temperature=2.0)])
    assert history.history["sparsity"][-1] == pytest.approx(0.5, abs=0.01)
    assert np.all(np.isfinite(history.history["loss"]))


def test_a_resumed_run_gets_the_same_weights(digits, tmp_path):
    (x, y), _ = digits
    x, y = x[:128], y[:128]
    keras.utils.set_random_seed(0)
    teacher = small_cnn()

    def start():
        keras.utils.set_random_seed(3)
        return compile_classifier(kerasprune.prune(small_cnn()), keras.optimizers.SGD(0.05))

    def gmp():
        return kerasprune.PruningCallback(0.6, stabilization_epochs=0, pruning_epochs=2,
                                          finetune_epochs=0)

    whole = start()
    whole.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
              callbacks=[gmp(), Distillation(teacher)])
    first = start()
    first.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0,
              callbacks=[gmp(), Distillation(teacher)])
    first.save(tmp_path / "epoch1.keras")
    resumed = keras.saving.load_model(tmp_path / "epoch1.keras")
    resumed.fit(x, y, batch_size=32, epochs=2, initial_epoch=1, shuffle=False, verbose=0,
                callbacks=[gmp(), Distillation.from_config(
                    Distillation(teacher).get_config(), teacher=teacher)])
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_config_round_trips_with_the_teacher_given_again():
    teacher = small_cnn()
    distill = Distillation(teacher, temperature=3.0, weight=0.2, features={"hidden": "hidden"},
                           feature_weight=0.1)
    again = Distillation.from_config(distill.get_config(), teacher=teacher)
    assert again.get_config() == distill.get_config() and again.teacher is teacher


@pytest.mark.parametrize("kwargs, match", [
    ({"teacher": "dense"}, "`teacher` must be a keras.Model"),
    ({"temperature": 0}, "temperature"),
    ({"weight": -1.0}, "`weight` must be a finite number >= 0. Received: weight=-1.0"),
    ({"features": "hidden"}, "`features` must be a list of layer names"),
])
def test_bad_settings_are_refused(kwargs, match):
    arguments = {"teacher": small_cnn(), **kwargs}
    with pytest.raises((TypeError, ValueError), match=match):
        Distillation(**arguments)


def test_a_teacher_of_other_outputs_or_layers_is_refused_when_the_fit_begins(digits):
    (x, y), _ = digits
    student = frozen_student()
    with pytest.raises(ValueError, match="output shape"):
        student.fit(x[:8], y[:8], verbose=0,
                    callbacks=[Distillation(small_cnn(classes=4))])
    with pytest.raises(ValueError, match="'nowhere', which is not a layer of the model"):
        student.fit(x[:8], y[:8], verbose=0,
                    callbacks=[Distillation(small_cnn(), features=["nowhere"])])
    pruned = kerasprune.prune(small_cnn(), pattern=kerasprune.Channels(), exclude=["logits"])
    kerasprune.update_masks(pruned, 0.5)
    small = compile_classifier(kerasprune.shrink(pruned))
    with pytest.raises(ValueError, match="layer 'hidden' outputs \\(16,\\), the teacher's "
                                         "'hidden' \\(32,\\)"):
        small.fit(x[:8], y[:8], verbose=0,
                  callbacks=[Distillation(small_cnn(), features=["hidden"])])


def test_a_recipe_distills_from_its_input_model(digits):
    (x, y), _ = digits
    text = """
method: gmp
callback: {target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, finetune_epochs: 1}
training: {loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}}
distillation: {temperature: 2.0}
"""
    recipe = Recipe.from_yaml(text)
    assert recipe.distillation == {"temperature": 2.0, "weight": 1.0, "features": None,
                                   "feature_weight": 1.0}
    assert Recipe.from_yaml(recipe.to_yaml()).distillation == recipe.distillation
    assert "distillation" not in Recipe.from_yaml(text.replace(
        "distillation: {temperature: 2.0}", "")).to_yaml()
    teacher = small_cnn()
    before = [np.array(w) for w in teacher.weights]
    _, _, history = recipe.run(teacher, x[:128], y[:128], verbose=0)
    assert history.history["sparsity"][-1] == pytest.approx(0.5, abs=0.01)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, teacher.weights))
    with pytest.raises(ValueError, match="Unknown keys \\['alpha'\\] in recipe section "
                                         "`distillation`"):
        Recipe.from_yaml(text.replace("temperature: 2.0", "alpha: 0.5"))
    with pytest.raises(ValueError, match="temperature"):
        Recipe.from_yaml(text.replace("temperature: 2.0", "temperature: -1"))


class StopAfterOneBatch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise KeyboardInterrupt  # Ctrl-C between two steps


@pytest.mark.parametrize("where", ["in a step", "in another callback"])
def test_a_fit_that_stops_early_leaves_no_teacher_behind(where):
    """Keras never calls on_train_end then; the next fit without Distillation must train
    on the model's own loss alone."""
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="logits")])
    x, y = np.random.default_rng(0).normal(size=(16, 4)).astype("float32"), np.arange(16) % 3

    def student():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="logits")])
        model.set_weights([w * 0 + 0.1 for w in teacher.get_weights()])
        return model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(
            from_logits=True)) or model

    def failing_batches():
        yield x[:8], y[:8]
        yield x[:8], np.full(8, 7)  # a label out of range: the step itself fails

    interrupted, fresh = student(), student()
    distill = Distillation(teacher, weight=1000.0)
    with pytest.raises((KeyboardInterrupt, Exception)):
        if where == "in a step":
            interrupted.fit(failing_batches(), epochs=1, verbose=0, callbacks=[distill])
        else:
            interrupted.fit(x, y, batch_size=8, epochs=1, verbose=0,
                            callbacks=[distill, StopAfterOneBatch()])
    fresh.set_weights(interrupted.get_weights())
    losses = [m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0).history["loss"]
              for m in (interrupted, fresh)]
    assert losses[0] == losses[1]
    assert "compute_loss" not in vars(interrupted)
