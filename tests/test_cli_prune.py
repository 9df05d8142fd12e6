"""`kerasprune prune` with a recipe, `--json`, `--version` and `--import`."""

import json
import os
import sys
import textwrap

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from kerasprune.cli import main
from kerasprune.cli.prune_command import load_training_data

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
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)])
    dense.save(folder / "dense.keras")
    np.savez(folder / "data.npz", x_train=x[:512], y_train=y[:512], x_test=x_test[:128],
             y_test=y_test[:128])
    (folder / "recipe.yaml").write_text(RECIPE)
    code = main(["prune", str(folder / "dense.keras"), "--recipe", str(folder / "recipe.yaml"),
                 "--data", str(folder / "data.npz"), "-o", str(folder / "out"), "--runs", "5",
                 "--verbose", "0"])
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
    assert "Scale" in capsys.readouterr().err
    assert main(command + ["--import", "my_layers"]) == 0
    assert (tmp_path / "c.tflite").stat().st_size > 0
    assert main(command + ["--import", "no_such_module"]) == 1
    assert "--import no_such_module" in capsys.readouterr().err


def test_data_with_x_and_y_splits_its_last_fifth_off_for_testing(tmp_path):
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    (x_train, y_train), (x_test, y_test) = load_training_data(str(tmp_path / "d.npz"))
    assert y_train.tolist() == list(range(8)) and y_test.tolist() == [8, 9]
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), x)


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
                 "--runs", "1", "--verbose", "0"])
    assert code == 0
    tensors = tflite_export.inspect(tmp_path / "out" / "pruned.tflite").tensors
    assert [(t.dtype, t.sparse) for t in tensors] == [("float16", False)] * 2
