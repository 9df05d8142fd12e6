"""Real TFMOT scripts, ported with only the import, the data and the step counts changed
(each file's header lists its changes), run to the end and checked against what their
authors print or expect.

The scripts are TFMOT's own examples and pruning guides (Apache-2.0). The files run as
`python <file>`; here `runpy` runs them as `__main__` with a scratch `--output_dir`.
"""

import glob
import os
import re
import runpy
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasprune.tfmot.python.core.sparsity.keras import pruning_utils
from tests.helpers import read_scalars

HERE = Path(__file__).parent


def _run(name: str, monkeypatch, *args: str) -> dict:
    """Run the script `name` as a program with `args`; returns its globals."""
    from absl import flags

    monkeypatch.setattr(sys, "argv", [str(HERE / name), *args])
    keras.utils.set_random_seed(0)
    try:
        return runpy.run_path(str(HERE / name), run_name="__main__")
    except SystemExit as done:  # absl's app.run exits with main's result
        assert not done.code
        return {}
    finally:
        if "output_dir" in flags.FLAGS:  # each script defines it anew
            delattr(flags.FLAGS, "output_dir")


def _summaries(output_dir: Path) -> dict:
    (run,) = glob.glob(str(output_dir / "tmp_*"))
    return read_scalars(Path(run) / "metrics")


def test_mnist_cnn_prunes_three_ways_and_reloads(tmp_path, monkeypatch, capsys):
    _run("mnist_cnn.py", monkeypatch, f"--output_dir={tmp_path}")
    printed = capsys.readouterr().out
    accuracies = [float(line.split()[-1]) for line in printed.splitlines()
                  if line.startswith("Test accuracy:")]
    assert len(accuracies) == 6  # 3 models, each evaluated before saving and after loading
    assert accuracies[0::2] == accuracies[1::2]  # "Check that accuracy persists."
    saved = sorted(glob.glob(str(tmp_path / "tmp_*" / "saved_model_*.keras")))
    assert len(saved) == 3
    for path in saved:
        model = keras.models.load_model(path)
        pruned = [layer for layer in model.layers if getattr(layer, "pruning_vars", None)]
        assert len(pruned) == 4  # conv, conv, dense, dense
        for wrapper in pruned:
            assert wrapper.sparsity == pytest.approx(0.75, abs=1e-3)  # the final sparsity


def test_mnist_2x4_passes_its_own_check(tmp_path, monkeypatch, capsys):
    _run("mnist_e2e_sparsity2x4.py", monkeypatch, f"--output_dir={tmp_path}")
    printed = capsys.readouterr().out
    assert "Pass the check for sparsity 2x4:  True" in printed
    accuracy = float(printed.strip().splitlines()[-1])  # the TFLite model on the test digits
    assert accuracy > 0.5
    assert glob.glob(str(tmp_path / "tmp_*" / "mnist_2x4.tflite"))


def test_mnist_mha_prunes_attention(tmp_path, monkeypatch, capsys):
    _run("mnist_mha.py", monkeypatch, f"--output_dir={tmp_path}")
    assert "Pruned model test accuracy:" in capsys.readouterr().out
    scalars = _summaries(tmp_path)
    # The attention layer's first mask, written at each epoch's start (steps 0 and 18).
    assert scalars["prune_low_magnitude_mha/mask:0/sparsity"] == [
        (0, 0.0), (18, pytest.approx(0.75))]


def test_imdb_lstm_reaches_its_final_sparsity(monkeypatch, capsys):
    script = _run("imdb_lstm.py", monkeypatch)
    printed = capsys.readouterr().out
    assert "Test accuracy:" in printed
    pruned = {type(layer.layer).__name__: [1 - np.count_nonzero(w) / np.size(w)
                                           for w in layer.layer.get_prunable_weights()]
              for layer in script["model"].layers if getattr(layer, "pruning_vars", None)}
    assert pruned == {  # TFMOT's defaults: embeddings, LSTM kernels, Dense kernel
        "Embedding": [pytest.approx(0.7, abs=0.01)],
        "LSTM": [pytest.approx(0.7, abs=0.01)] * 2,
        "Dense": [pytest.approx(0.7, abs=0.01)],
    }
    # The script's own summary after training (before it, Keras 3 has not built the model:
    # `Embedding(input_length=...)` no longer gives a Sequential its input shape).
    assert re.search(r"prune_low_magnitude_lstm\w*: \(kernel, 0\.(7|69)", printed)


def test_two_by_four_guide_leaves_two_four_kernels_in_tflite(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")  # the guide plots the weights
    script = _run("pruning_with_sparsity_2_by_4.py", monkeypatch)
    model = script["model"]  # stripped
    kernels = {layer.name: np.asarray(layer.kernel) for layer in model.layers
               if hasattr(layer, "kernel")}
    assert pruning_utils.is_pruned_m_by_n(kernels["structural_pruning"])
    assert pruning_utils.is_pruned_m_by_n(kernels["structural_pruning_dense"])
    assert np.mean(kernels["pruning_sparsity_0_5"] == 0) == pytest.approx(0.5, abs=0.01)
    # The guide reads the pruned Dense weights back from the TFLite file: [1024, 3136],
    # 2 zeros in every 4 consecutive inputs (its plot's subset checked here).
    dense = script["interpreter"].tensor(
        [d for d in script["details"] if "structural_pruning_dense_1/MatMul" in d["name"]][0]
        ["index"])()
    assert dense.shape == (1024, 3136)
    assert (np.count_nonzero(dense.reshape(1024, -1, 4), axis=2) <= 2).all()


def test_on_device_guide_prunes_the_pointwise_convolutions(monkeypatch, capsys):
    script = _run("pruning_for_on_device_inference.py", monkeypatch)
    printed = capsys.readouterr().out
    assert "Pruned model test accuracy:" in printed
    wrapped = [layer for layer in script["model_for_pruning"].layers
               if layer.__class__.__name__ == "PruneLowMagnitude"]
    assert [w.layer.kernel_size for w in wrapped] == [(1, 1), (1, 1)]  # the policy's choice
    assert [w.sparsity for w in wrapped] == [pytest.approx(0.75, abs=1e-3)] * 2
    assert os.path.getsize(script["pruned_tflite_file"]) > 0
