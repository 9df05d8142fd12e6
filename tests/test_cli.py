"""The `kerasprune` command: export, inspect, bench, and --help on each."""

import json

import keras
import numpy as np
import pytest

import kerasprune
import tflite_export
from kerasprune.cli import main

X = np.random.default_rng(0).random((40, 32), dtype=np.float32)
Y = np.random.default_rng(1).integers(0, 10, 40)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A pruned .keras model (still wrapped), and dense/sparse TFLite files."""
    folder = tmp_path_factory.mktemp("cli")
    keras.utils.set_random_seed(0)
    dense = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
    )
    pruned = kerasprune.prune(dense, block_shape=(4, 1))
    kerasprune.update_masks(pruned, 0.9)
    paths = {
        "keras": folder / "pruned.keras",
        "dense": folder / "dense.tflite",
        "data": folder / "test.npz",
    }
    pruned.save(paths["keras"])
    paths["dense"].write_bytes(tflite_export.convert(dense, sparse=False))
    np.savez(paths["data"], x=X, y=Y)
    paths["expected"] = pruned.predict(X, verbose=0)
    return paths


def test_export_writes_a_sparse_tflite_file(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    assert main(["export", str(files["keras"]), "-o", str(out)]) == 0
    report = tflite_export.inspect(out)
    assert [t.runs for t in report.tensors] == ["sparse kernel", "sparse kernel"]
    assert f"wrote {out}" in capsys.readouterr().out
    outputs = tflite_export.benchmark(out, X, runs=1, warmup=0, xnnpack=(False,))
    assert outputs.file_bytes == out.stat().st_size


def test_export_dense_and_quantized(files, tmp_path, capsys):
    dense_out, dyn_out = tmp_path / "dense.tflite", tmp_path / "dyn.tflite"
    assert main(["export", str(files["keras"]), "-o", str(dense_out), "--dense"]) == 0
    assert tflite_export.inspect(dense_out).sparse_tensors == []
    assert main(["export", str(files["keras"]), "-o", str(dyn_out), "--quantize", "dynamic"]) == 0
    by_dtype = {t.dtype: t.runs for t in tflite_export.inspect(dyn_out).tensors}
    # The 32x64 kernel becomes int8, whose sparse kernel wants 1x16 blocks, not 1x4;
    # the 64x10 one is too small for dynamic-range quantization and stays float.
    assert by_dtype == {"int8": "DENSIFY", "float32": "sparse kernel"}


def test_export_int8_needs_representative_data(files, tmp_path, capsys):
    out = tmp_path / "int8.tflite"
    assert main(["export", str(files["keras"]), "-o", str(out), "--quantize", "int8"]) == 1
    assert "representative_data" in capsys.readouterr().err
    assert not out.exists()
    samples = tmp_path / "samples.npy"
    np.save(samples, X)
    args = ["export", str(files["keras"]), "-o", str(out), "--quantize", "int8",
            "--representative-data", str(samples)]
    assert main(args) == 0
    assert tflite_export.inspect(out).tensors[0].dtype == "int8"


def test_inspect_prints_the_tensor_table(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    main(["export", str(files["keras"]), "-o", str(out)])
    capsys.readouterr()
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| FULLY_CONNECTED |" in text and "1x4" in text and "sparse kernel" in text


def test_bench_alone_and_against_dense(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    main(["export", str(files["keras"]), "-o", str(out)])
    capsys.readouterr()
    assert main(["bench", str(out), "--runs", "5", "--data", str(files["data"])]) == 0
    alone = capsys.readouterr().out
    accuracy = np.mean(files["expected"].argmax(-1) == Y)
    assert f"accuracy: {accuracy:.4f}" in alone
    assert "| on | xnnpack |" in alone and "| off | builtin |" in alone
    assert "recommended: " in alone

    assert main(["bench", str(out), "--dense", str(files["dense"]), "--runs", "5"]) == 0
    table = capsys.readouterr().out
    assert "| dense |" in table and "| model |" in table and "2 sparse kernel" in table


@pytest.mark.parametrize("command", [[], ["export"], ["inspect"], ["bench"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: kerasprune")
    if command:
        assert f"kerasprune {command[0]}" in text


def test_missing_and_wrong_files_give_clear_errors(files, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.tflite")]) == 1
    assert "No TFLite file" in capsys.readouterr().err
    assert main(["inspect", str(files["keras"])]) == 1
    assert "is not a TFLite flatbuffer" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.keras"), "-o", str(tmp_path / "x.tflite")]) == 1
    assert "No model file" in capsys.readouterr().err


def test_export_of_a_model_with_nothing_sparse_warns_on_stderr(tmp_path, capsys):
    dense = keras.Sequential([keras.Input((32,)), keras.layers.Dense(8)])
    path, out = tmp_path / "dense.keras", tmp_path / "dense.tflite"
    dense.save(path)
    assert main(["export", str(path), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning: Sparsity was asked for but the TFLite file is dense" in captured.err
    assert "warning" not in captured.out and f"wrote {out}" in captured.out


def test_bench_runs_with_the_threads_asked(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    main(["export", str(files["keras"]), "-o", str(out)])
    quick = ["--runs", "2", "--warmup", "0", "--threads", "2", "--json"]
    capsys.readouterr()
    assert main(["bench", str(out), *quick]) == 0
    assert json.loads(capsys.readouterr().out)["num_threads"] == 2
    assert main(["bench", str(out), "--dense", str(files["dense"]), *quick]) == 0
    assert json.loads(capsys.readouterr().out)["num_threads"] == 2
