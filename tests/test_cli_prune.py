"""`kerasprune prune` with a recipe: its outputs, its checks before training, `--json`,
`--version` and `--import`."""

import json
import os
import re
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from kerasprune.cli import main
from kerasprune.cli.data import load_data

RECIPE = """
method: gmp
callback: {target_sparsity: 0.8, stabilization_epochs: 0, pruning_epochs: 2, finetune_epochs: 1}
prune: {scope: global, block_shape: [4, 1]}
training:
  loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}
  learning_rate: 0.01
  batch_size: 64
export: {sparse: true}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("prune")
    (x, y), (x_test, y_test) = digits
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu", name="hidden"),
                              keras.layers.Dense(10, name="logits")])
    dense.save(folder / "dense.keras")
    np.savez(folder / "data.npz", x_train=x[:512], y_train=y[:512], x_test=x_test[:128],
             y_test=y_test[:128])
    (folder / "recipe.yaml").write_text(RECIPE)
    code = main(["prune", str(folder / "dense.keras"), "--recipe", str(folder / "recipe.yaml"),
                 "--data", str(folder / "data.npz"), "-o", str(folder / "out"), "--runs", "5",
                 "-q"])
    assert code == 0
    return folder


def test_prune_writes_model_tflite_report_plots_and_recipe(run_dir):
    out = run_dir / "out"
    pruned = keras.saving.load_model(out / "pruned.keras")
    assert kerasprune.sparsity_report(pruned).total == pytest.approx(0.8, abs=1e-3)
    inspection = tflite_export.inspect(out / "pruned.tflite")
    assert [t.runs for t in inspection.tensors] == ["sparse kernel", "sparse kernel"]
    report = (out / "report.md").read_text()
    assert "| dense |" in report and "| pruned |" in report and "80.0" in report
    assert "5 timed invokes per configuration and protocol after 5 untimed ones" in report
    # the command line that made it (its own arguments, not the test runner's)
    assert f"Command: `kerasprune prune {run_dir / 'dense.keras'} --recipe " in report
    for name in ("schedule.png", "layer_sparsity.png", "comparison.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in report
    assert kerasprune.Recipe.load(out / "recipe.yaml") == kerasprune.Recipe.from_yaml(RECIPE)


def test_prune_checks_the_recipe_before_loading_anything(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: gmp\ncallback: {target_sparsity: 2.0, stabilization_epochs: 0, "
                   "pruning_epochs: 1, finetune_epochs: 0}\n")
    code = main(["prune", str(tmp_path / "missing.keras"), "--recipe", str(bad),
                 "--data", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "out")])
    assert code == 1
    assert "target_sparsity" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_inspect_and_bench_json(run_dir, capsys):
    tflite = str(run_dir / "out" / "pruned.tflite")
    assert main(["inspect", tflite, "--json"]) == 0
    inspected = json.loads(capsys.readouterr().out)
    assert [t["runs"] for t in inspected["tensors"]] == ["sparse kernel", "sparse kernel"]
    assert inspected["file_bytes"] == os.path.getsize(tflite)
    assert main(["bench", tflite, "--runs", "3", "--warmup", "1", "--json"]) == 0
    timed = json.loads(capsys.readouterr().out)
    assert timed["file_bytes"] == os.path.getsize(tflite) and timed["timings"]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kerasprune {kerasprune.__version__}"


CUSTOM = textwrap.dedent("""
    import keras

    @keras.saving.register_keras_serializable(package="custom")
    class Scale(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x
""")


def test_import_lets_custom_layers_load(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_layers.py").write_text(CUSTOM)
    monkeypatch.chdir(tmp_path)  # --import finds modules in the current folder
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    import my_layers

    model = keras.Sequential([keras.Input((8,)), my_layers.Scale(), keras.layers.Dense(4)])
    model.save("custom.keras")
    # A fresh process would know neither the module nor the class: forget both.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    monkeypatch.delitem(sys.modules, "my_layers")
    monkeypatch.delitem(keras.saving.get_custom_objects(), "custom>Scale")
    command = ["export", "custom.keras", "-o", "c.tflite"]
    assert main(command) == 1
    error = capsys.readouterr().err  # Keras' config dump replaced by the class and the fix
    assert "uses the class 'Scale' (module 'my_layers'), which is not registered" in error
    assert "pass --import my_layers," in error and "config" not in error
    assert main(command + ["--import", "my_layers"]) == 0
    assert (tmp_path / "c.tflite").stat().st_size > 0
    assert main(command + ["--import", "no_such_module"]) == 1
    assert "--import no_such_module" in capsys.readouterr().err


def prune_command(run_dir, recipe_text: str, out, *extra, data="data.npz"):
    recipe = run_dir / "case.yaml"
    recipe.write_text(recipe_text)
    return main(["prune", str(run_dir / "dense.keras"), "--recipe", str(recipe),
                 "--data", str(run_dir / data), "-o", str(out), "--runs", "3", *extra])


@pytest.fixture(scope="module")
def bad_data(run_dir):
    np.savez(run_dir / "wide.npz", x=np.zeros((20, 8, 8, 1), np.float32), y=np.zeros(20))
    np.savez(run_dir / "unlabelled.npz", x=np.zeros((20, 7, 7, 1), np.float32))
    (run_dir / "a_file").write_text("not a folder")
    return run_dir


@pytest.mark.parametrize("case, recipe_change, extra, match", [
    ("output is a file", None, ["-o", "{a_file}"], r"-o '.*a_file' is a file"),
    ("runs 0", None, ["--runs", "0"], r"Expected runs to be an int >= 1"),
    ("quantize int4", "export: {sparse: true, quantize: int4}", [], r"case.yaml.*quantize"),
    ("malformed yaml", "prune: [scope", [], r"case.yaml' is not valid YAML"),
    ("unknown layer", "prune: {scope: global, layers: [no_such_layer]}", [], r"no_such_layer"),
    ("wrong shape", None, ["--data", "{wide.npz}"], r"takes inputs of shape \(batch, 7, 7, 1\)"),
    ("no labels", None, ["--data", "{unlabelled.npz}"], r"must hold labels"),
    ("earlier run's results", None, ["-o", "{earlier}"],
     r"already holds the results of a run \(.*pruned.keras.*\)"),
])
def test_prune_checks_everything_before_training(bad_data, tmp_path, capsys, case, recipe_change,
                                                 extra, match):
    text = RECIPE if recipe_change is None else RECIPE.replace(
        RECIPE.split("\n")[-2 if recipe_change.startswith("export") else 3], recipe_change)
    args = [a.replace("{a_file}", str(bad_data / "a_file")).replace(
        "{wide.npz}", str(bad_data / "wide.npz")).replace(
        "{unlabelled.npz}", str(bad_data / "unlabelled.npz")).replace(
        "{earlier}", str(bad_data / "out")) for a in extra]
    earlier = (bad_data / "out" / "pruned.keras").read_bytes()
    try:
        code = prune_command(bad_data, text, tmp_path / "out", *args)
    except SystemExit as exit_info:  # argparse refuses --runs 0 itself
        code = exit_info.code
    captured = capsys.readouterr()
    assert code in (1, 2)
    assert re.search(match, captured.err), captured.err
    assert "Epoch 1/" not in captured.out  # fit never started
    assert not (tmp_path / "out").exists()
    assert (bad_data / "out" / "pruned.keras").read_bytes() == earlier


def test_prune_json_has_the_facts_of_the_text(run_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert prune_command(run_dir, RECIPE, out, "-q") == 0
    text = capsys.readouterr().out
    assert prune_command(run_dir, RECIPE, tmp_path / "again", "--json") == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["method"] == "gmp" and facts["sparsity"] == pytest.approx(0.8, abs=1e-3)
    assert f"{facts['sparsity']:.2%} of the prunable weights pruned" in text
    assert f"theoretical speed-up {facts['theoretical_speedup']:.2f}x" in text
    assert facts["tflite_weights"] == "2 sparse kernel" and "2 sparse kernel" in text
    pruned_row = facts["tflite"]["rows"][1]
    assert pruned_row["name"] == "pruned" and set(pruned_row["speedup"]) == {
        "interleaved", "blocked", "conservative"}
    assert all(Path(p).exists() for p in facts["written"])
    assert {Path(p).name for p in facts["written"]} == {
        "pruned.keras", "pruned.tflite", "recipe.yaml", "layer_sparsity.png", "comparison.png",
        "schedule.png", "report.md"}


CHANNELS = """
method: one-shot
callback: {sparsity: 0.5}
prune: {pattern: {channels: l1}, exclude: [logits], scope: layer}
training:
  loss: {class_name: SparseCategoricalCrossentropy, config: {from_logits: true}}
  epochs: 1
"""


def test_a_channels_recipe_exports_a_shrunk_model_from_the_command(run_dir, tmp_path, capsys):
    out = tmp_path / "channels"
    assert prune_command(run_dir, CHANNELS, out, "--json") == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["shrunk"] and facts["warnings"] == []  # no SparsityWarning after shrink
    small = keras.saving.load_model(out / "shrunk.keras")
    assert [layer.units for layer in small.layers if hasattr(layer, "units")] == [32, 10]
    shapes = [t.shape for t in tflite_export.inspect(out / "pruned.tflite").tensors]
    assert shapes == [(32, 49), (10, 32)]  # the exported file holds the smaller model
    assert facts["theoretical_speedup"] == pytest.approx((49 * 64 + 64 * 10) / (49 * 32 + 32 * 10))
    assert not (out / "schedule.png").exists()  # one-shot: no schedule to draw
def test_data_with_x_and_y_splits_its_last_fifth_off_for_testing(tmp_path):
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = load_data(str(tmp_path / "d.npz"))
    assert data.y_train.tolist() == list(range(8)) and data.y_test.tolist() == [8, 9]
    np.testing.assert_array_equal(np.concatenate([data.x_train, data.x_test]), x)


def test_prune_follows_the_recipes_export_section(tmp_path, digits):
    (x, y), _ = digits
    dense = keras.Sequential([keras.Input((7, 7, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(32), keras.layers.Dense(10)])
    dense.save(tmp_path / "dense.keras")
    np.savez(tmp_path / "data.npz", x=x[:80], y=y[:80])
    (tmp_path / "recipe.yaml").write_text(
        "method: gmp\n"
        "callback: {target_sparsity: 0.8, stabilization_epochs: 0, pruning_epochs: 1, "
        "finetune_epochs: 0}\n"
        "prune: {block_shape: [4, 1]}\n"
        "export: {sparse: false, quantize: float16}\n")
    code = main(["prune", str(tmp_path / "dense.keras"), "--recipe", str(tmp_path / "recipe.yaml"),
                 "--data", str(tmp_path / "data.npz"), "-o", str(tmp_path / "out"),
                 "--runs", "1", "-q"])
    assert code == 0
    tensors = tflite_export.inspect(tmp_path / "out" / "pruned.tflite").tensors
    assert [(t.dtype, t.sparse) for t in tensors] == [("float16", False)] * 2


def test_data_of_any_length_fits_an_input_with_an_unknown_dimension(tmp_path):
    from kerasprune.cli.prune_command import check_input_shape

    model = keras.Sequential([keras.Input((None, 4)), keras.layers.Dense(2)], name="seq")
    check_input_shape(model, np.zeros((3, 7, 4)), "d.npz")  # any length: accepted
    with pytest.raises(ValueError, match=r"model 'seq' takes inputs of shape \(batch, None, 4\)"
                                         r"\. Received: samples of shape \(3, 7, 5\)"):
        check_input_shape(model, np.zeros((3, 7, 5)), "d.npz")


def test_an_int8_export_of_a_recurrent_model_is_refused_before_training(tmp_path, capsys):
    # TensorFlow's int8 calibration crashed the process on the recurrent loop, after training
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(4, name="gru"),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "rnn.keras")
    np.savez(tmp_path / "seq.npz", x=np.zeros((10, 5, 3), np.float32), y=np.zeros(10, int))
    (tmp_path / "recipe.yaml").write_text(RECIPE.replace("{sparse: true}",
                                                         "{sparse: true, quantize: int8}"))
    code = main(["prune", str(tmp_path / "rnn.keras"), "--recipe", str(tmp_path / "recipe.yaml"),
                 "--data", str(tmp_path / "seq.npz"), "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1 and "Epoch 1/" not in captured.out
    assert re.search(r'quantize="int8" cannot convert the recurrent layer\(s\) gru .*"dynamic"',
                     captured.err), captured.err
    assert not (tmp_path / "out" / "pruned.keras").exists()


def test_the_report_takes_every_label_layout_fit_accepts():
    from kerasprune.cli.run_report import class_labels

    np.testing.assert_array_equal(class_labels(keras.utils.to_categorical([2, 0, 1], 3)),
                                  [2, 0, 1])
    np.testing.assert_array_equal(class_labels(np.array([[1.0], [0.0]])), [1, 0])
    np.testing.assert_array_equal(class_labels(np.array([1, 0, 1])), [1, 0, 1])
    assert class_labels(np.array([0.3, 1.7], "float32")) is None  # regression: loss only
    from kerasprune.cli.run_report import RunSummary

    regression = RunSummary([], "gmp", 0.5, 0.5, None, 2.0, False, "", None, loss=0.25)
    assert "Keras test loss 0.25 (no accuracy" in regression.measured()


def test_the_reported_keras_accuracy_of_a_sigmoid_model_is_binary_accuracy():
    from kerasprune.cli.run_report import _accuracy

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.array([[10.0]]), np.array([0.0])])
    assert _accuracy(model, np.array([[1.0], [-1.0]]), np.array([1, 0])) == 1.0


def test_a_failure_after_training_keeps_the_model_and_a_report_naming_it(tmp_path, monkeypatch,
                                                                         capsys):
    import tflite_export.conversion

    def failing_convert(*args, **kwargs):
        raise ValueError("conversion broke")

    monkeypatch.setattr(tflite_export.conversion, "convert", failing_convert)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="fc"),
                              keras.layers.Dense(2, name="logits")])
    dense.save(tmp_path / "dense.keras")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(40, 4)).astype("float32"),
             y=rng.integers(0, 2, 40))
    (tmp_path / "r.yaml").write_text(RECIPE)
    code = main(["prune", str(tmp_path / "dense.keras"), "--recipe", str(tmp_path / "r.yaml"),
                 "--data", str(tmp_path / "d.npz"), "-o", str(tmp_path / "out"), "-q"])
    assert code == 1 and "conversion broke" in capsys.readouterr().err
    out = tmp_path / "out"
    assert keras.saving.load_model(out / "pruned.keras") is not None
    assert (out / "recipe.yaml").exists()
    assert "failed after training" in (out / "report.md").read_text()
    assert "conversion broke" in (out / "report.md").read_text()
