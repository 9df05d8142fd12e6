"""Recipes: YAML round trips with the callbacks' get_config, checks, and a run."""

import inspect
import warnings

import keras
import numpy as np
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


# -- every method, every prune argument, patterns in YAML, errors naming the file -------

TINY_GMP = "{target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, finetune_epochs: 0}"
LOSS = "loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}"


@pytest.mark.parametrize("spelling, expected", [
    ("channels", kerasprune.Channels("l1")),
    ("Channels", kerasprune.Channels("l1")),
    ("{channels: l2}", kerasprune.Channels("l2")),
    ("{channels: {criterion: taylor, min_channels: 2}}",
     kerasprune.Channels("taylor", min_channels=2)),
    ("{blocks: [4, 1]}", kerasprune.Blocks((4, 1))),
    ("{blocks: {block_shape: [2, 2], pooling: max}}", kerasprune.Blocks((2, 2), pooling="max")),
    ('{nm: "2:4"}', kerasprune.NM(2, 4)),
    ("{nm: 2:4}", kerasprune.NM(2, 4)),  # unquoted: YAML 1.1 read the base-60 number 124
    ("{nm: [1, 4]}", kerasprune.NM(1, 4)),
    ("unstructured", kerasprune.Unstructured()),
    ("{unstructured: snip}", kerasprune.Unstructured("snip")),
    ("{class_name: Channels, registered_name: kerasprune>Channels, "
     "config: {criterion: l2}}", kerasprune.Channels("l2")),
    ("{class_name: Blocks, config: {block_shape: [4, 1]}}", kerasprune.Blocks((4, 1))),
    ('{class_name: "kerasprune>NM", config: {n: 2, m: 4}}', kerasprune.NM(2, 4)),
])
def test_patterns_have_a_natural_yaml_spelling(spelling, expected):
    recipe = Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\nprune: {{pattern: {spelling}}}")
    pattern = recipe.pattern()
    assert type(pattern) is type(expected)
    assert pattern.get_config() == expected.get_config()
    again = Recipe.from_yaml(recipe.to_yaml())
    assert again == recipe and again.pattern().get_config() == expected.get_config()


def test_a_pattern_object_is_written_in_the_yaml_spelling():
    recipe = Recipe.from_callback(kerasprune.PruningCallback(0.5, stabilization_epochs=0,
                                                             pruning_epochs=1, finetune_epochs=0),
                                  prune={"pattern": kerasprune.NM(2, 4)})
    assert "pattern:\n    nm:\n      n: 2\n      m: 4" in recipe.to_yaml()
    assert Recipe.from_yaml(recipe.to_yaml()) == recipe


@pytest.mark.parametrize("spelling, match", [
    ("circles", "must be one of"),
    ("{channels: l7}", "criterion"),
    ('{nm: "2-4"}', "nm must be written"),
    ("{nm: [4, 2]}", "1 <= n < m"),
    ("{blocks: {shape: [4, 1]}}", "shape"),
])
def test_bad_pattern_spellings_are_refused_naming_the_pattern(spelling, match):
    with pytest.raises(ValueError, match=match):
        Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\nprune: {{pattern: {spelling}}}")


def test_every_prune_argument_reaches_the_wrappers(digits):
    recipe = Recipe.from_yaml(f"""
method: gmp
callback: {TINY_GMP}
prune: {{scope: global, exclude: [logits], min_density: 0.25, mask_dtype: uint8,
         penalty: 0.001, sparsity_overrides: {{conv: 0.3}}, block_shape: [2, 1]}}
""")
    pruned = recipe.prune_model(small_cnn())
    wrappers = kerasprune.prune_wrappers(pruned)
    assert [w.layer.name for w in wrappers] == ["conv", "hidden"]
    assert {(w.min_density, w.mask_dtype, w.penalty) for w in wrappers} == {(0.25, "uint8", 0.001)}
    assert {type(w.pattern).__name__ for w in wrappers} == {"Blocks"}


@pytest.mark.parametrize("text, match", [
    ("prune: {min_density: 1.5}", "min_density"),
    ("prune: {mask_dtype: int4}", "mask_dtype"),
    ("prune: {penalty: -1}", "penalty"),
    ("prune: {block_shape: [4, 1], pattern: channels}", "at most one"),
    ("shrink: true", "prunes no whole channels"),
    ("shrink: yes please", "shrink"),
    ("export: {quantize: int4}", "quantize"),
    ("export: {sparse: maybe}", "sparse"),
    ("training: {metrics: 3}", "metrics"),
    ("training: {criterion_samples: 0}", "criterion_samples"),
    ("training: {epoch: 3}", r"Unknown keys \['epoch'\] in recipe section `training`"),
    ("training: {epochs: 0}", r"epochs"),  # one-shot alone may skip fine-tuning
    ("training: {batch_size: 0}", "batch_size"),
    ("training: {validation_split: 1.0}", "validation_split"),
    ("training: {validation_split: -0.1}", "validation_split"),
])
def test_bad_sections_are_refused_before_training(text, match):
    with pytest.raises(ValueError, match=match):
        Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\n{text}")


@pytest.mark.parametrize("text, match", [
    ("method: penalty\ncallback: {threshold: 0.01, penalty_epochs: 1, finetune_epochs: 0}",
     "prune: {penalty"),
    ("method: rigl\ncallback: {target_sparsity: 0.5}", "epochs"),
    ("method: l0\ncallback: {target_sparsity: 0.5, gate_epochs: 1, finetune_epochs: 0}\n"
     "prune: {penalty: 0.001}", "Received: penalty=0.001"),
    ("method: penalty\ncallback: {threshold: 0.01, penalty_epochs: 1, finetune_epochs: 0}\n"
     "prune: {penalty: {class_name: Lasso}}", "Received: penalty="),
    ("method: gmp\ncallback: {target_sparsity: 0.5}\n"
     "prune: {pattern: {class_name: Blocks, config: {shape: [4, 1]}}}",
     r"Blocks config takes \['block_shape'.*unknown keys: \['shape'\]"),
    ("method: one-shot\ncallback: {sparsity: 0.5}", "epochs"),
    ("method: one-shot\ncallback: {target_sparsity: 0.5}\ntraining: {epochs: 1}", "sparsity"),
    ("method: one-shot\ncallback: {sparsity: 0.5, criterion: taylor}\ntraining: {epochs: 1}",
     "criterion"),
])
def test_methods_refuse_what_they_cannot_run(text, match):
    with pytest.raises(ValueError, match=match):
        Recipe.from_yaml(text)


def test_metrics_may_be_one_name():
    recipe = Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\ntraining: {{metrics: accuracy}}")
    assert recipe.training["metrics"] == ["accuracy"]
    model = recipe.compile(recipe.prune_model(small_cnn()))
    model.fit(np.zeros((4, 7, 7, 1)), np.zeros(4), verbose=0)
    assert "accuracy" in model.get_metrics_result()


def test_metrics_may_be_serialized_metrics_alone_or_in_a_list():
    top2 = "{class_name: SparseTopKCategoricalAccuracy, config: {k: 2, name: top2}}"
    for metrics in (f"[accuracy, {top2}]", top2):
        recipe = Recipe.from_yaml(
            f"method: gmp\ncallback: {TINY_GMP}\ntraining: {{metrics: {metrics}}}")
        model = recipe.compile(recipe.prune_model(small_cnn()))
        model.fit(np.zeros((4, 7, 7, 1)), np.zeros(4), verbose=0)
        assert "top2" in model.get_metrics_result()
        assert recipe.compile(recipe.prune_model(small_cnn())).metrics  # built anew each time


@pytest.mark.parametrize("metrics, entry", [
    ("[accuracy, 2]", "2"),
    ("[accuracy, {top2: {k: 2}}]", "{'top2': {'k': 2}}"),
    ("[[accuracy]]", "['accuracy']"),
    ("3", "3"),
])
def test_a_bad_metrics_entry_is_refused_when_the_recipe_is_read(metrics, entry):
    with pytest.raises(ValueError, match=r"`training.metrics` must be a metric name, a "
                       r"serialized metric \{class_name: \.\.\., config: .*list of these") as error:
        Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\ntraining: {{metrics: {metrics}}}")
    assert entry in str(error.value)


def test_a_malformed_yaml_file_is_an_error_naming_the_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("method: gmp\ncallback: {target_sparsity: 0.5\nprune: [\n")
    with pytest.raises(ValueError, match=r"Recipe file '.*broken.yaml' is not valid YAML: .*line"):
        Recipe.load(path)
    path.write_text(f"method: gmp\ncallback: {TINY_GMP.replace('0.5', '2.0')}\n")
    with pytest.raises(ValueError, match=r"Recipe file '.*broken.yaml': .*target_sparsity"):
        Recipe.load(path)


def fit_data(digits, n=256):
    (x, y), (x_test, y_test) = digits
    return x[:n], y[:n], (x_test[:128], y_test[:128])


@pytest.mark.parametrize("method, callback, sections, sparsity", [
    ("rigl", "{target_sparsity: 0.6, update_every: 2}", "training: {epochs: 1, %s}", 0.6),
    ("penalty", "{threshold: 0.05, penalty_epochs: 1, finetune_epochs: 1, target_sparsity: 0.5}",
     "prune: {penalty: 0.001, scope: global}\ntraining: {%s}", 0.5),
    ("one-shot", "{sparsity: 0.7}", "training: {epochs: 1, %s}", 0.7),
    ("one-shot", "{sparsity: 0.7, criterion: snip}", "training: {epochs: 0, %s}", 0.7),
    ("imp", "{target_sparsity: 0.6, cycles: 2, epochs_per_cycle: 1, original_learning_rate: 0.01,"
            " original_epochs: 2}", "training: {%s}", 0.6),
    ("bimp", "{target_sparsity: 0.6, total_epochs: 2, dense_epochs: 1, cycles: 1}",
     "training: {%s}", 0.6),
    ("movement", "{target_sparsity: 0.6, stabilization_epochs: 0, pruning_epochs: 1,"
                 " finetune_epochs: 1, update_every: 2}", "training: {%s}", 0.6),
    ("penalty", "{threshold: 0.05, penalty_epochs: 1, finetune_epochs: 0, target_sparsity: 0.5}",
     "prune: {penalty: {class_name: SparseGroupLasso, config: {strength: 0.001}}}\n"
     "training: {%s}", 0.5),
])
def test_every_method_runs_from_a_recipe(digits, method, callback, sections, sparsity):
    x, y, test = fit_data(digits)
    recipe = Recipe.from_yaml(f"method: {method}\ncallback: {callback}\n" + sections % LOSS)
    pruned, callback_object, history = recipe.run(small_cnn(), x, y, validation_data=test,
                                                  verbose=0)
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(sparsity, abs=0.02)
    assert (callback_object is None) == (method == "one-shot")
    assert len(history.history.get("loss", [])) == recipe.epochs(callback_object)


def test_a_channels_recipe_exports_the_shrunk_model(digits):
    x, y, test = fit_data(digits)
    recipe = Recipe.from_yaml(f"""
method: one-shot
callback: {{sparsity: 0.5}}
prune: {{pattern: channels, exclude: [logits], scope: layer}}
training: {{epochs: 1, {LOSS}}}
""")
    assert recipe.shrink is True and recipe.export["sparse"] is False
    pruned, _, _ = recipe.run(small_cnn(), x, y, verbose=0)
    small = recipe.exported_model(pruned)
    units = {layer.name: getattr(layer, "units", getattr(layer, "filters", None))
             for layer in small.layers}
    assert units["conv"] == 4 and units["hidden"] == 16  # half of 8 and 32
    np.testing.assert_allclose(small.predict(x[:8], verbose=0), pruned.predict(x[:8], verbose=0),
                               atol=1e-5)
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


def test_run_gives_its_callback_the_data_without_a_deprecation_warning():
    recipe = Recipe.from_yaml(TRAINING_RECIPE.replace("epochs: 4", "epochs: 2"))
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 4), dtype=np.float32), rng.integers(0, 3, 16)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, callback, _ = recipe.run(model, x, y, verbose=0)
    assert isinstance(callback.data, kerasprune.CriterionData)
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)
                and "kerasprune" in str(w.message)]


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


def test_l0_recipe_trains_gates_and_keeps_half_the_channels(digits):
    x, y, test = fit_data(digits)
    recipe = Recipe.from_yaml(
        "method: l0\ncallback: {target_sparsity: 0.5, gate_epochs: 1, finetune_epochs: 1}\n"
        "prune: {layers: [conv, hidden], pattern: channels,"
        " penalty: {class_name: L0Gates, config: {strength: 0.001}}}\n"
        "training: {%s}" % LOSS)
    pruned, callback, history = recipe.run(small_cnn(), x, y, verbose=0)
    assert history.history["stage"] == [0, 1]
    kept = [w.masks[0].numpy().reshape(-1, w.masks[0].shape[-1]).any(axis=0)
            for w in kerasprune.prune_wrappers(pruned)]
    assert [int(k.sum()) for k in kept] == [4, 16]  # half of conv's 8, hidden's 32


@pytest.mark.parametrize("section, criterion, seed", [
    ("prune: {criterion: random, seed: 3}", "random", 3),
    ("prune: {pattern: {channels: fpgm}, exclude: [logits]}", "magnitude", 0),
])
def test_new_criteria_and_the_random_seed_reach_the_wrappers(section, criterion, seed):
    recipe = Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\n{section}")
    wrappers = kerasprune.prune_wrappers(recipe.prune_model(small_cnn()))
    assert {(w.criterion, w.seed) for w in wrappers} == {(criterion, seed)}


def test_a_one_shot_grasp_recipe_compiles_a_copy_for_its_gradients(digits):
    x, y, test = fit_data(digits)
    recipe = Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.6, criterion: grasp}\n"
                              f"training: {{epochs: 0, {LOSS}}}")
    pruned, _, _ = recipe.run(small_cnn(), x, y, validation_data=test, verbose=0)
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.6, abs=0.01)
    with pytest.raises(ValueError, match="criterion"):
        Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.6, criterion: grasp2}")
    with pytest.raises(ValueError, match="criterion"):
        Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\nprune: {{pattern: {{channels: "
                         "cosine2}}")


def test_a_one_shot_criterion_may_be_given_in_the_prune_section_alone():
    recipe = Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.5}\n"
                              "prune: {criterion: wanda}\ntraining: {epochs: 0}")
    assert recipe.prune["criterion"] == "wanda" and "criterion" not in recipe.callback


def test_a_one_shot_recipe_reconstructs_when_asked(digits):
    (x, y), _ = digits
    weights = []
    for reconstruct in ("false", "true"):
        recipe = Recipe.from_yaml(f"method: one-shot\ncallback: {{sparsity: 0.5, reconstruct: "
                                  f"{reconstruct}}}\nprune: {{pattern: channels}}\n"
                                  "training: {epochs: 0}")
        keras.utils.set_random_seed(0)
        pruned, _, _ = recipe.run(small_cnn(), x[:128], y[:128], verbose=0)
        weights.append([np.array(w) for w in pruned.weights])
    assert any(not np.allclose(a, b) for a, b in zip(*weights))


def test_a_recipes_distillation_settings_reach_the_loss(digits):
    (x, y), _ = digits
    losses = []
    for temperature in (1.0, 8.0):
        recipe = Recipe.from_yaml(
            f"method: gmp\ncallback: {TINY_GMP}\ntraining: {{loss: {{class_name: "
            "SparseCategoricalCrossentropy, config: {from_logits: true}}}\n"
            f"distillation: {{temperature: {temperature}}}")
        keras.utils.set_random_seed(0)
        _, _, history = recipe.run(small_cnn(), x[:64], y[:64], verbose=0)
        losses.append(history.history["loss"][0])
    # the student starts as a pruned copy of its (untrained) teacher: the KL term is
    # small, but T^2 times it differs at T = 1 and T = 8; runs with one T are identical
    assert abs(losses[0] - losses[1]) > 1e-5


def test_the_training_sections_optimizer_loss_metrics_and_criterion_samples_reach_the_run(
        digits):
    (x, y), _ = digits
    recipe = Recipe.from_yaml(f"""
method: gmp
callback: {TINY_GMP}
training:
  optimizer: sgd
  learning_rate: 0.05
  loss: {{class_name: CategoricalCrossentropy, config: {{label_smoothing: 0.25}}}}
  metrics: [mae]
  criterion_samples: 8
""")
    model = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    pruned, callback, history = recipe.run(model, x[:32], keras.utils.to_categorical(y[:32]),
                                           verbose=0)
    assert isinstance(pruned.optimizer, keras.optimizers.SGD)
    assert float(pruned.optimizer.learning_rate) == pytest.approx(0.05)
    assert isinstance(pruned.loss, keras.losses.CategoricalCrossentropy)
    assert pruned.loss.get_config()["label_smoothing"] == 0.25
    assert set(history.history) >= {"loss", "mae"} and "accuracy" not in history.history
    assert len(callback.data.x) == len(callback.data.y) == 8  # the data criteria compute on


@pytest.mark.parametrize("prune_section", ["", "prune: {scope: global}\n"])
def test_a_one_shot_recipe_prunes_in_prunes_scope_unless_told(digits, prune_section):
    x, y, _ = fit_data(digits, n=64)
    recipe = Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.5}\n" + prune_section
                              + "training: {epochs: 0}")
    pruned, _, _ = recipe.run(small_cnn(), x, y, verbose=0)
    default = inspect.signature(kerasprune.prune).parameters["scope"].default
    scope = "global" if prune_section else default
    assert {w.scope for w in kerasprune.prune_wrappers(pruned)} == {scope}
    report = kerasprune.sparsity_report(pruned)
    assert report.total == pytest.approx(0.5, abs=1e-2)
    # one threshold over the model leaves its layers at different sparsities
    sparsities = {round(1 - r.nonzeros / r.size, 2) for r in report.rows}
    assert (len(sparsities) > 1) == (scope == "global")


from tests.callbacks.test_base_pruning_callback import CALLBACK_OPTIONS  # noqa: E402

METHODS = {cls: method for method, cls in kerasprune.recipe.CALLBACKS.items()}


@pytest.mark.parametrize("cls, options", CALLBACK_OPTIONS,
                         ids=[cls.__name__ for cls, _ in CALLBACK_OPTIONS])
def test_every_section_and_setting_survives_from_callback_and_yaml(cls, options):
    # Every key of every section away from its default: nothing is dropped, swapped with
    # another section or read back as its default.
    method = METHODS[cls]
    penalty = ({"class_name": "L0Gates", "config": {"strength": 1e-4}} if method == "l0"
               else 1e-3)
    prune = {"scope": "global", "exclude": ["logits"], "sparsity_overrides": {"hidden": 0.3},
             "pattern": {"channels": {"criterion": "l2", "min_channels": 2}},
             "min_density": 0.05, "mask_dtype": "uint8", "penalty": penalty, "seed": 3}
    training = {"optimizer": "sgd", "learning_rate": 0.02, "loss": "mse", "metrics": ["mae"],
                "batch_size": 8, "epochs": 5, "validation_split": 0.1,
                "criterion_samples": 32}
    export = {"sparse": False, "quantize": "int8"}
    distillation = {"temperature": 2.0, "weight": 0.5, "features": ["hidden"],
                    "feature_weight": 0.25}
    callback = cls(**options)
    recipe = Recipe.from_callback(callback, prune=prune, training=training, shrink=False,
                                  export=export, distillation=distillation)
    loaded = Recipe.from_yaml(recipe.to_yaml())
    assert loaded.as_dict() == {"method": method, "callback": callback.get_config(),
                                "prune": prune, "training": training, "shrink": False,
                                "export": export, "distillation": distillation}
    assert loaded.make_callback().get_config() == callback.get_config()


def test_the_edges_of_the_training_section_that_are_allowed():
    Recipe.from_yaml(f"method: gmp\ncallback: {TINY_GMP}\ntraining: {{epochs: 1, "
                     "batch_size: 1, validation_split: 0.0, criterion_samples: 1}")
    Recipe.from_yaml("method: one-shot\ncallback: {sparsity: 0.5}\ntraining: {epochs: 0}")


def test_from_callback_refuses_another_callback_naming_every_method_s_class():
    from kerasprune.recipe import CALLBACKS

    with pytest.raises(TypeError, match="EarlyStopping") as error:
        Recipe.from_callback(keras.callbacks.EarlyStopping())
    assert all(cls.__name__ in str(error.value) for cls in CALLBACKS.values())
    assert len(CALLBACKS) == 7


@pytest.mark.parametrize("spelling, method", [("GMP", "gmp"), (" Imp ", "imp"),
                                              ("One_Shot", "one-shot"), ("oneshot", "one-shot")])
def test_method_is_read_in_any_case_and_with_an_underscore(spelling, method):
    callback = ("{sparsity: 0.5}" if method == "one-shot" else
                "{target_sparsity: 0.5, stabilization_epochs: 0, pruning_epochs: 1, "
                "finetune_epochs: 0}" if method == "gmp" else
                "{target_sparsity: 0.5, cycles: 1, epochs_per_cycle: 1, retrain_schedule: ft, "
                "original_learning_rate: 0.1}")
    recipe = Recipe.from_yaml(f"method: {spelling!r}\ncallback: {callback}\n"
                              "training: {epochs: 1}\n")
    assert recipe.method == method
    with pytest.raises(ValueError, match=r"Received: method='GMPX'"):
        Recipe.from_yaml(f"method: GMPX\ncallback: {callback}\n")


@pytest.mark.parametrize("spelling, expected", [
    ("None", None), ("none", None), ("null", None), ("FLOAT16", "float16"), ("Int8", "int8")])
def test_export_quantize_takes_any_case_and_none_as_python_writes_it(spelling, expected):
    recipe = Recipe.from_yaml(
        f"method: gmp\ncallback: {TINY_GMP}\nexport: {{quantize: {spelling}}}")
    assert recipe.export["quantize"] == expected
    assert Recipe.from_yaml(recipe.to_yaml()) == recipe


def test_save_of_a_value_yaml_cannot_hold_names_it_and_keeps_the_file(tmp_path):
    import re as regex

    path = tmp_path / "r.yaml"
    path.write_text("kept")
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    with pytest.raises(ValueError, match=r"`prune.layers` cannot be written as YAML"):
        Recipe.from_callback(gmp, prune={"layers": regex.compile("fc.*")}).save(path)
    assert path.read_text() == "kept"
