"""How fast the `kerasprune` command answers, against `python -c "import tensorflow"`.

Each command runs in a fresh process, alternated with the others round by round (so a
change in machine load hits all of them alike), `--repeats` times; the section reports the
median and the minimum wall time of each. Commands:

- `python -c "pass"`: the interpreter alone;
- `python -c "import tensorflow"`: what every command paid before (TensorFlow imported
  first);
- `kerasprune --help`, `kerasprune bench --help` and an argument error
  (`kerasprune bench m.tflite --runs 0`): no TensorFlow;
- `kerasprune inspect m.tflite` and `kerasprune bench m.tflite --runs 20`: LiteRT only;
- `kerasprune export m.keras -o m.tflite`: imports TensorFlow, converts;
- `python -m kerasprune.cli --help`: the same command reached through the `kerasprune`
  package, which imports Keras and TensorFlow.

The `kerasprune` command is `python -m kerasprune.cli` (what the installed script runs).

    python -m bench.cli_startup [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common

SECTION = "cli_startup"


def commands(folder: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "kerasprune.cli"]
    model, tflite = str(folder / "m.keras"), str(folder / "m.tflite")
    return {
        'python -c "pass"': [sys.executable, "-c", "pass"],
        'python -c "import tensorflow"': [sys.executable, "-c", "import tensorflow"],
        "kerasprune --help": [*cli, "--help"],
        "kerasprune bench --help": [*cli, "bench", "--help"],
        "kerasprune bench m.tflite --runs 0 (argument error)": [*cli, "bench", tflite, "--runs",
                                                                  "0"],
        "kerasprune inspect m.tflite": [*cli, "inspect", tflite],
        "kerasprune bench m.tflite --runs 20": [*cli, "bench", tflite, "--runs", "20"],
        "kerasprune export m.keras -o out.tflite": [*cli, "export", model, "-o",
                                                    str(folder / "out.tflite")],
        "python -m kerasprune.cli --help (through the package)": [
            sys.executable, "-m", "kerasprune.cli", "--help"],
    }


def make_files(folder: Path) -> None:
    """A small MLP as .keras and .tflite (made in a child process: this one stays light)."""
    code = (
        "import keras, tflite_export\n"
        "m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation='relu'),"
        " keras.layers.Dense(10)])\n"
        f"m.save({str(folder / 'm.keras')!r})\n"
        f"open({str(folder / 'm.tflite')!r}, 'wb').write(tflite_export.convert(m, sparse=False,"
        " verbose=0))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=common.ROOT,
                   env=_env(), capture_output=True)


def _env() -> dict:
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([str(common.ROOT), env.get("PYTHONPATH", "")])
    return env


def time_commands(argvs: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    times = {name: [] for name in argvs}
    for round_ in range(repeats):
        for name, argv in argvs.items():
            began = time.perf_counter()
            done = subprocess.run(argv, cwd=common.ROOT, env=_env(), capture_output=True)
            times[name].append(time.perf_counter() - began)
            if done.returncode not in (0, 2):  # 2: the argument error, as intended
                raise RuntimeError(f"{name} failed: {done.stderr.decode()[-1000:]}")
        print(f"round {round_ + 1}/{repeats} done", flush=True)
    return times


def report(times: dict[str, list[float]], repeats: int) -> str:
    tensorflow = statistics.median(times['python -c "import tensorflow"'])
    lines = [
        "## `kerasprune` command start-up",
        "",
        f"Wall time of each command in a fresh process, {repeats} alternated rounds "
        "(`bench/cli_startup.py`). `kerasprune` is `python -m kerasprune.cli`, what the "
        "installed script runs; `-c \"import tensorflow\"` is what every command paid before "
        "it imported TensorFlow only where needed.",
        "",
        "| command | median s | min s | median vs `import tensorflow` |",
        "|---|---:|---:|---:|",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| `{name}` | {median:.2f} | {min(values):.2f} | "
                     f"{median / tensorflow:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="alternated rounds (default 7)")
    parser.add_argument("--no-write", action="store_true", help="print, do not write RESULTS.md")
    args = parser.parse_args(argv)
    began = time.time()
    with tempfile.TemporaryDirectory() as folder:
        make_files(Path(folder))
        times = time_commands(commands(Path(folder)), args.repeats)
    text = report(times, args.repeats)
    print(text)
    if not args.no_write:
        common.write_section(SECTION, text, wall_seconds=time.time() - began)


if __name__ == "__main__":
    main()
