"""`make demo`'s job (examples/quickstart.py) at tiny settings: its table, its files, no log
noise, and the README's commands after it, run as written on the files it wrote."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def commands_after_the_demo() -> list[list[str]]:
    """The README's first bash block after the demo's section, one command per line."""
    text = README.read_text()
    section = text[text.index("## What `make demo` shows"):]
    block = re.search(r"^```bash\n(.*?)^```", section, flags=re.S | re.M).group(1)
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo run in a fresh folder, as `make demo` runs it (its files go to out/)."""
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_CPP")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "examples.quickstart", "--train", "256", "--dense-epochs", "1",
         "--epochs", "2", "--runs", "5"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )
    return folder, env, result


def test_demo_prints_one_table_of_four_rows_and_nothing_on_stderr(demo):
    folder, _, result = demo
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows] == [
        "| model", "| dense", "| unstructured 90%", "| (4, 1) blocks 90% on fc",
        "| channels 50% + shrink"]
    assert "speed-up interleaved / blocked" in rows[0] and "| why |" in rows[0]
    why = {row.split(" | ")[0][2:]: row.split(" | ")[-1] for row in rows[1:]}
    assert "DENSIFY" in why["unstructured 90%"] and "dense speed" in why["unstructured 90%"]
    assert "sparse FULLY_CONNECTED kernel" in why["(4, 1) blocks 90% on fc"]
    assert "multiply-accumulates left" in why["channels 50% + shrink"]
    assert "Each row: 1 dense epochs shared, then 2 more" in result.stdout


def test_demo_writes_the_files_the_readme_uses(demo):
    folder = demo[0]
    for name in ("dense.keras", "dense.tflite", "unstructured.tflite", "pruned.keras",
                 "pruned.tflite", "shrunk.keras", "shrunk.tflite", "data.npz", "recipe.yaml"):
        assert (folder / "out" / name).stat().st_size > 0, name


def test_the_readme_commands_after_the_demo_run_as_written(demo, monkeypatch, capsys):
    # `kerasprune` is `kerasprune.cli:main` (pyproject.toml); run here in this process (a
    # fresh process per command is tested in tests/test_cli.py).
    from kerasprune.cli import main

    folder, env, result = demo
    assert result.returncode == 0
    commands = commands_after_the_demo()
    assert [c[:2] for c in commands] == [["kerasprune", "inspect"], ["kerasprune", "bench"],
                                         ["kerasprune", "export"], ["kerasprune", "prune"]]
    monkeypatch.chdir(folder)
    for command in commands:
        assert main(command[1:]) == 0, f"{shlex.join(command)}:\n{capsys.readouterr().err}"
    assert (folder / "out" / "run" / "report.md").is_file()
    assert (folder / "out" / "shrunk_f16.tflite").is_file()
