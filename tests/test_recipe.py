"""Recipes: YAML round trips with the callbacks' get_config, checks, and a run."""

import keras
import pytest

import kerasprune
from kerasprune import Recipe
from tests.helpers import small_cnn

CALLBACKS = [
    kerasprune.PruningCallback(0.9, stabilization_epochs=1, pruning_epochs=3, finetune_epochs=2,
                               update_every=10, finetune_learning_rates=[1e-3, 1e-4],
                               schedule=kerasprune.PolynomialDecay(0.1, 0.9, 0, 40, frequency=10)),
    kerasprune.IMPCallback(0.8, cycles=2, epochs_per_cycle=1, retrain_schedule="clr",
                           original_learning_rate=keras.optimizers.schedules.CosineDecay(0.1, 100),
                           original_epochs=5),
    kerasprune.BIMPCallback(0.7, total_epochs=4, dense_epochs=2, cycles=2, log_dir="logs"),
]


@pytest.mark.parametrize("callback", CALLBACKS, ids=["gmp", "imp", "bimp"])
def test_recipe_round_trips_with_get_config(callback, tmp_path):
    recipe = Recipe.from_callback(callback, prune={"scope": "global", "block_shape": (4, 1)},
                                  training={"batch_size": 16, "learning_rate": 0.01})
    recipe.save(tmp_path / "r.yaml")
    loaded = Recipe.load(tmp_path / "r.yaml")
    assert loaded == recipe
    rebuilt = loaded.make_callback()
    assert type(rebuilt) is type(callback)
    assert rebuilt.get_config() == callback.get_config()
    assert loaded.prune["block_shape"] == [4, 1]


RECIPE = """
method: gmp
callback: {target_sparsity: 0.75, stabilization_epochs: 0, pruning_epochs: 2, finetune_epochs: 1}
prune: {scope: global, exclude: [logits]}
training:
  optimizer: {class_name: Adam, config: {learning_rate: 0.01}}
  loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}
  batch_size: 64
export: {quantize: null}
"""


def test_run_prunes_selected_layers_with_the_recipes_training(digits):
    (x, y), (x_test, y_test) = digits
    recipe = Recipe.from_yaml(RECIPE)
    pruned, callback, history = recipe.run(small_cnn(), x[:512], y[:512],
                                           validation_data=(x_test, y_test), verbose=0)
    assert len(history.history["loss"]) == callback.total_epochs == 3
    assert [w.layer.name for w in kerasprune.prune_wrappers(pruned)] == ["conv", "hidden"]
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.75, abs=1e-3)
    assert pruned.optimizer.learning_rate.numpy() == pytest.approx(0.01)
    assert history.history["val_accuracy"][-1] > 0.5


@pytest.mark.parametrize("text, match", [
    ("method: obd\ncallback: {}", "method"),
    ("method: gmp\ncallback: {target_sparsity: 1.5, stabilization_epochs: 0, "
     "pruning_epochs: 1, finetune_epochs: 0}", "target_sparsity"),
    ("method: gmp\ncallback: {target_sparsity: 0.5}", "stabilization_epochs"),
    ("method: gmp\ncallback: {target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, "
     "finetune_epochs: 0}\nprune: {scop: global}", "scop"),
    ("method: gmp\ncallback: {target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, "
     "finetune_epochs: 0}\ntraining: {batch_size: 0}", "batch_size"),
    ("method: gmp\ncallback: {target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, "
     "finetune_epochs: 0}\ntraining: {optimizer: adamm}", "adamm"),
    ("method: gmp\nextra: 1\ncallback: {}", "extra"),
    ("- just a list", "mapping"),
])
def test_bad_recipes_are_refused_before_training(text, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Recipe.from_yaml(text)


TRAINING_RECIPE = """
method: gmp
callback: {target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, finetune_epochs: 1}
training: {optimizer: sgd, learning_rate: 0.02, epochs: 4, batch_size: 32}
"""


def test_run_uses_the_training_sections_epochs_and_learning_rate(digits):
    (x, y), _ = digits
    recipe = Recipe.from_yaml(TRAINING_RECIPE)
    model = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    pruned, callback, history = recipe.run(model, x[:64], y[:64], verbose=0)
    assert callback.total_epochs == 2
    assert len(history.history["loss"]) == 4  # the recipe's epochs, past the callback's
    assert history.history["learning_rate"] == pytest.approx([0.02] * 4)
    assert history.history["stage"] == [1, 2, 2, 2]


class BatchCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_begin(self, batch, logs=None):
        self.per_epoch[-1] += 1


@pytest.mark.parametrize("training, batches, validated", [
    ({"batch_size": 16}, 4, False),
    ({"batch_size": 16, "validation_split": 0.25}, 3, True),
], ids=["batch_size", "validation_split"])
def test_run_uses_the_training_sections_batch_size_and_validation_split(
        training, batches, validated, digits):
    (x, y), _ = digits
    recipe = Recipe.from_callback(
        kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                   finetune_epochs=0), training=training)
    counter = BatchCounter()
    model = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    _, _, history = recipe.run(model, x[:64], y[:64], callbacks=[counter], verbose=0)
    assert counter.per_epoch == [batches]  # 64 samples, or the first 48 of them
    assert ("val_loss" in history.history) is validated


def test_from_callback_keeps_every_section():
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    recipe = Recipe.from_callback(gmp, prune={"exclude": ["logits"]},
                                  training={"epochs": 3}, export={"sparse": False,
                                                                  "quantize": "dynamic"})
    assert recipe.prune == {"exclude": ["logits"]}
    assert recipe.training["epochs"] == 3
    assert recipe.export == {"sparse": False, "quantize": "dynamic"}
