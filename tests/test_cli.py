"""The `kerasprune` command: export, inspect, bench, --help, --json, quiet output."""

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import json

import keras
import numpy as np
import pytest

import kerasprune
import kerasprune.cli
import tflite_export
from kerasprune.cli import main

ROOT = Path(__file__).resolve().parents[1]
X = np.random.default_rng(0).random((40, 32), dtype=np.float32)
Y = np.random.default_rng(1).integers(0, 10, 40)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A pruned .keras model (still wrapped), and dense/sparse TFLite files."""
    folder = tmp_path_factory.mktemp("cli")
    keras.utils.set_random_seed(0)
    dense = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(64, activation="relu", name="hidden"),
         keras.layers.Dense(10, name="logits")]
    )
    pruned = kerasprune.prune(dense, block_shape=(4, 1))
    kerasprune.update_masks(pruned, 0.9)
    paths = {
        "keras": folder / "pruned.keras",
        "dense": folder / "dense.tflite",
        "sparse": folder / "pruned.tflite",
        "data": folder / "test.npz",
        "split": folder / "split.npz",
    }
    pruned.save(paths["keras"])
    paths["dense"].write_bytes(tflite_export.convert(dense, sparse=False))
    paths["sparse"].write_bytes(tflite_export.convert(pruned))
    np.savez(paths["data"], x=X, y=Y)
    np.savez(paths["split"], x_train=X[:30], y_train=Y[:30], x_test=X[30:], y_test=Y[30:])
    paths["expected"] = pruned.predict(X, verbose=0)
    return paths


def run_json(capsys, *argv) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_export_writes_a_sparse_tflite_file(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    assert main(["export", str(files["keras"]), "-o", str(out)]) == 0
    report = tflite_export.inspect(out)
    assert [t.runs for t in report.tensors] == ["sparse kernel", "sparse kernel"]
    assert f"wrote {out}" in capsys.readouterr().out
    outputs = tflite_export.benchmark(out, X, runs=1, warmup=0, xnnpack=(False,))
    assert outputs.file_bytes == out.stat().st_size


def test_export_json_has_the_file_and_its_tensors(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    facts = run_json(capsys, "export", str(files["keras"]), "-o", str(out))
    assert facts["output"] == str(out) and facts["file_bytes"] == out.stat().st_size
    assert facts["summary"] == "2 sparse kernel" and facts["warnings"] == []
    assert [t["layer"] for t in facts["tensors"]] == ["hidden", "(model output layer)"]


def test_export_dense_and_quantized(files, tmp_path, capsys):
    dense_out, dyn_out = tmp_path / "dense.tflite", tmp_path / "dyn.tflite"
    assert main(["export", str(files["keras"]), "-o", str(dense_out), "--dense"]) == 0
    assert tflite_export.inspect(dense_out).sparse_tensors == []
    assert main(["export", str(files["keras"]), "-o", str(dyn_out), "--quantize", "dynamic"]) == 0
    by_dtype = {t.dtype: t.runs for t in tflite_export.inspect(dyn_out).tensors}
    # The 32x64 kernel becomes int8, whose sparse kernel wants 1x16 blocks, not 1x4;
    # the 64x10 one is too small for dynamic-range quantization and stays float.
    assert by_dtype == {"int8": "DENSIFY", "float32": "sparse kernel"}


def test_export_int8_needs_representative_data_in_either_format(files, tmp_path, capsys):
    out = tmp_path / "int8.tflite"
    assert main(["export", str(files["keras"]), "-o", str(out), "--quantize", "int8"]) == 1
    assert "--quantize int8 needs --representative-data" in capsys.readouterr().err
    assert not out.exists()
    samples = tmp_path / "samples.npy"
    np.save(samples, X)
    for data in (samples, files["data"], files["split"]):  # .npy, or the one .npz layout
        args = ["export", str(files["keras"]), "-o", str(out), "--quantize", "int8",
                "--representative-data", str(data)]
        assert main(args) == 0
        assert tflite_export.inspect(out).tensors[0].dtype == "int8"


def test_inspect_shows_keras_layer_names_first(files, capsys):
    assert main(["inspect", str(files["dense"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| layer | op |")
    assert lines[2].startswith("| hidden | FULLY_CONNECTED | [64, 32] |")
    assert lines[3].startswith("| logits | FULLY_CONNECTED | [10, 64] |")
    facts = run_json(capsys, "inspect", str(files["dense"]))
    assert [t["layer"] for t in facts["tensors"]] == ["hidden", "logits"]
    assert facts["tensors"][0]["name"].endswith("hidden_1/MatMul")  # TFLite's own name too


def test_inspect_prints_the_tensor_table(files, capsys):
    assert main(["inspect", str(files["sparse"])]) == 0
    text = capsys.readouterr().out
    assert "| FULLY_CONNECTED |" in text and "1x4" in text and "sparse kernel" in text
    facts = run_json(capsys, "inspect", str(files["sparse"]))
    assert facts["file_bytes"] == files["sparse"].stat().st_size
    assert [t["runs"] for t in facts["tensors"]] == ["sparse kernel", "sparse kernel"]


def test_bench_alone_recommends_a_runtime_in_text_and_json(files, capsys):
    assert main(["bench", str(files["sparse"]), "--runs", "5", "--data", str(files["data"])]) == 0
    alone = capsys.readouterr().out
    accuracy = np.mean(files["expected"].argmax(-1) == Y)
    assert f"accuracy: {accuracy:.4f}" in alone
    assert "| on | xnnpack |" in alone and "| off | builtin |" in alone
    facts = run_json(capsys, "bench", str(files["sparse"]), "--runs", "5", "--data",
                     str(files["data"]))
    assert "recommended: " in alone and facts["recommendation"].startswith("recommended: ")
    best = facts["recommended"]
    assert best["setting"] in ("XNNPACK", "built-in kernels")
    assert best["latency_us"] == min(max(t["median_us"], t["blocked_median_us"])
                                     for t in facts["timings"])
    assert facts["accuracy"] == pytest.approx(accuracy)
    assert facts["protocol"] in alone


def test_bench_against_dense_gives_the_speedup_in_text_and_json(files, capsys):
    args = ["bench", str(files["sparse"]), "--dense", str(files["dense"]), "--runs", "5"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| dense |" in table and "| model |" in table and "2 sparse kernel" in table
    facts = run_json(capsys, *args)
    model = facts["rows"][1]
    assert model["name"] == "model" and facts["baseline"] == "dense"
    speedup, dense = model["speedup"], facts["rows"][0]
    assert speedup["interleaved"] == pytest.approx(dense["median_us"] / model["median_us"])
    assert speedup["blocked"] == pytest.approx(dense["blocked_median_us"]
                                               / model["blocked_median_us"])
    assert speedup["conservative"] == min(speedup["interleaved"], speedup["blocked"])
    assert "speed-up vs dense, interleaved / blocked" in table


def test_bench_reads_the_same_data_layout_as_prune(files, capsys):
    """A split file is evaluated on its test part; an x/y file on all of it."""
    test = files["expected"][30:].argmax(-1) == Y[30:]
    facts = run_json(capsys, "bench", str(files["sparse"]), "--runs", "2", "--data",
                     str(files["split"]))
    assert facts["accuracy"] == pytest.approx(np.mean(test))


def test_json_output_is_the_only_thing_on_stdout_with_progress_on(files, tmp_path, capfd):
    out = tmp_path / "m.tflite"
    assert main(["export", str(files["keras"]), "-o", str(out), "--json"]) == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["output"] == str(out)
    assert "stage" in captured.err  # the conversion's progress bar went to stderr


def test_quiet_prints_no_progress_bar(files, tmp_path, capsys):
    assert main(["-q", "export", str(files["keras"]), "-o", str(tmp_path / "m.tflite")]) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert main(["export", str(files["keras"]), "-o", str(tmp_path / "m.tflite")]) == 0
    assert "stage" in capsys.readouterr().out  # Keras' Progbar: "4/4 ... 0s 10ms/stage"


@pytest.mark.parametrize("command", [[], ["prune"], ["export"], ["inspect"], ["bench"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(command + ["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: kerasprune")
    assert "%" not in text  # argparse's %% escapes must not show
    if command:
        assert f"kerasprune {command[0]}" in text
        assert "--json" in text and "-v, --verbose" in text


def test_every_argument_of_every_command_says_what_it_is():
    import argparse

    from kerasprune.cli import _parser

    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        assert [a.dest for a in command._actions if not a.help] == [], name


@pytest.mark.parametrize("argv, missing", [
    (["prune", "m.keras", "--recipe", "r.yaml", "-o", "out"], "--data"),
    (["prune", "m.keras", "--data", "d.npz", "-o", "out"], "--recipe"),
    (["export", "m.keras"], "-o/--output"),
])
def test_a_missing_required_option_is_a_usage_error_naming_it(argv, missing, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert f"the following arguments are required: {missing}" in capsys.readouterr().err


def test_a_data_file_without_labels_is_benched_whole_and_calibrates_on_its_first_80_percent(
        tmp_path):
    from kerasprune.cli.data import load_data, load_samples

    path = str(tmp_path / "inputs.npz")
    np.savez(path, x=np.arange(10.0).reshape(10, 1))
    x, y = load_data(path).evaluation()
    assert y is None and x.ravel().tolist() == list(range(10))
    assert load_samples(path).ravel().tolist() == list(range(8))


def test_version_matches_the_package():
    assert kerasprune.cli.__version__ == kerasprune.__version__


def imported_modules(*argv: str, module: str = "kerasprune.cli"
                     ) -> tuple[subprocess.CompletedProcess, str]:
    """Run the command in a fresh process; returns it and its `-X importtime` log."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", module, *argv],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    return result, result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["export", "--help"], ["prune", "--help"],
                                  ["bench", "x.tflite", "--runs", "0"], ["export", "m.keras"]])
def test_help_and_argument_errors_do_not_import_tensorflow(argv):
    result, imports = imported_modules(*argv)
    assert result.returncode in (0, 2)
    assert "tensorflow" not in imports and "keras" not in imports.replace("kerasprune", "")


def test_python_m_kerasprune_is_the_command_and_its_help_is_quick():
    result, imports = imported_modules("--help", module="kerasprune")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("usage: kerasprune ")
    assert "tensorflow" not in imports and "keras" not in imports.replace("kerasprune", "")


def test_inspect_and_bench_of_a_tflite_file_need_no_tensorflow(files):
    for argv in (["inspect", str(files["sparse"])],
                 ["bench", str(files["sparse"]), "--runs", "2", "--data", str(files["data"])]):
        result, imports = imported_modules(*argv)
        assert result.returncode == 0, imports[-2000:]
        assert "| FULLY_CONNECTED |" in result.stdout or "recommended:" in result.stdout
        assert "tensorflow" not in imports


def test_export_in_a_fresh_process_prints_no_tensorflow_log_lines(files, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    out = tmp_path / "m.tflite"
    result = subprocess.run([sys.executable, "-m", "kerasprune.cli", "export",
                             str(files["keras"]), "-o", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # no "oneDNN custom operations", no absl preamble
    assert f"wrote {out}" in result.stdout


def test_missing_and_wrong_files_give_clear_errors(files, tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.tflite")]) == 1
    assert "No TFLite file" in capsys.readouterr().err
    assert main(["inspect", str(files["keras"])]) == 1
    assert "is not a TFLite flatbuffer" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.keras"), "-o", str(tmp_path / "x.tflite")]) == 1
    assert "No model file" in capsys.readouterr().err
    assert main(["export", str(files["keras"]), "-o", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    missing_folder = str(tmp_path / "out") + "/"  # a folder by its slash, not made yet
    assert main(["export", str(files["keras"]), "-o", missing_folder]) == 1
    assert f"--output {missing_folder!r} is a folder" in capsys.readouterr().err


def test_broken_data_files_are_named_with_the_array(files, tmp_path, capsys):
    broken, objects = tmp_path / "broken.npz", tmp_path / "objects.npz"
    broken.write_bytes(files["data"].read_bytes()[:200])  # a download cut short
    np.savez(objects, x=X, y=np.array([str(v) for v in Y], dtype=object))
    assert main(["bench", str(files["sparse"]), "--runs", "1", "--data", str(broken)]) == 1
    assert f"--data {str(broken)!r} is not a .npz file (truncated?)" in capsys.readouterr().err
    assert main(["bench", str(files["sparse"]), "--runs", "1", "--data", str(objects)]) == 1
    assert (f"--data {str(objects)!r}: array 'y' holds Python objects"
            in capsys.readouterr().err)


def test_a_keras_file_whose_config_is_not_json_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("config.json", "{not json")
    assert main(["export", str(bad), "-o", str(tmp_path / "x.tflite")]) == 1
    assert f"{str(bad)!r} is a corrupt .keras file: its config.json" in capsys.readouterr().err


def test_export_of_a_model_with_nothing_sparse_warns_in_one_line(tmp_path, capsys):
    dense = keras.Sequential([keras.Input((32,)), keras.layers.Dense(8)], name="plain")
    path, out = tmp_path / "dense.keras", tmp_path / "dense.tflite"
    dense.save(path)
    assert main(["export", str(path), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("warning: Sparsity was asked for but no weight of model 'plain'")
    assert "sparse=False" in line and "kerasprune inspect" in line
    assert "warning" not in captured.out and f"wrote {out}" in captured.out
    facts = run_json(capsys, "export", str(path), "-o", str(out))
    assert facts["warnings"] == [line[len("warning: "):]]
    with warnings.catch_warnings(record=True) as caught:  # -v: shown in full, as Python does
        warnings.simplefilter("always")
        assert main(["-v", "export", str(path), "-o", str(out)]) == 0
    assert [w.category for w in caught if "Sparsity was asked" in str(w.message)] == [
        tflite_export.SparsityWarning]


def test_bench_runs_with_the_threads_runs_and_warmup_asked(files, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    main(["export", str(files["keras"]), "-o", str(out)])
    quick = ["--runs", "2", "--warmup", "1", "--threads", "2", "--json"]
    capsys.readouterr()
    for dense in ([], ["--dense", str(files["dense"])]):  # alone, and against a baseline
        assert main(["bench", str(out), *dense, *quick]) == 0
        facts = json.loads(capsys.readouterr().out)
        assert (facts["num_threads"], facts["runs"], facts["warmup"]) == (2, 2, 1)
        assert "2 thread(s), 2 timed invokes per configuration and protocol after 1 " \
               "untimed ones" in facts["protocol"]


def test_export_int8_of_a_quantization_aware_model_needs_no_data(tmp_path, capsys):
    from kerasprune.quantization import calibrate, quantize_model

    qat = quantize_model(keras.Sequential([keras.Input((32,)), keras.layers.Dense(8),
                                           keras.layers.Dense(4)]))
    calibrate(qat, X)  # its own activation ranges
    qat.save(tmp_path / "qat.keras")
    out = tmp_path / "qat.tflite"
    assert main(["export", str(tmp_path / "qat.keras"), "-o", str(out), "--quantize", "int8",
                 "-q"]) == 0
    report = tflite_export.inspect(out)
    assert report.ops[0] == "QUANTIZE" and {t.dtype for t in report.tensors} == {"int8"}


def test_export_of_a_compiled_model_says_nothing_about_its_optimizer(tmp_path, capsys):
    # Keras warned "Skipping variable loading for optimizer 'adam'" for a model saved
    # compiled but untrained: a file needs no optimizer, export loads without compiling
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    pruned.compile("adam", "mse")
    pruned.save(tmp_path / "compiled.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["export", str(tmp_path / "compiled.keras"), "-o",
                     str(tmp_path / "c.tflite"), "--dense", "-q"]) == 0
    said = capsys.readouterr()
    assert "optimizer" not in said.out + said.err + " ".join(str(w.message) for w in caught)
    assert (tmp_path / "c.tflite").stat().st_size > 0


def test_bench_without_data_feeds_every_input_of_a_multi_input_file(tmp_path, capsys):
    # a sample was built for the first input only: the bench of a two-input file failed
    ids = keras.Input((3,), dtype="int32", name="ids")
    values = keras.Input((5,), name="values")
    tokens = keras.layers.Flatten()(keras.layers.Embedding(7, 2)(ids))
    model = keras.Model([ids, values],
                        keras.layers.Dense(2)(keras.layers.Concatenate()([tokens, values])))
    out = tmp_path / "two_inputs.tflite"
    out.write_bytes(tflite_export.convert(model, sparse=False))
    facts = run_json(capsys, "bench", str(out), "--runs", "1", "--warmup", "0")
    assert facts["runs"] == 1
