"""Prunability: which keras.applications models structured pruning shrinks exactly.

For every keras.applications constructor (weights=None, small inputs, logits out), the
plain user call: `prune(model, pattern=Channels("l1"), exclude=[<logits>])`,
`update_masks(pruned, 0.5)`, `shrink(pruned)`. Per model: the fraction of the pruned
layers' output channels, parameters and multiply-accumulates kept, the largest
difference between the masked and the shrunk model's outputs (relative to the largest
output), whether every pruned channel was removed, the pruned layers left whole, and the
TFLite float32 latency dense vs shrunk (1 thread, batch 1; blocked timing: each model in
blocks of consecutive invokes after warm-up, blocks alternated; interleaved timing too).

A model "shrinks exactly" when the outputs agree (relative difference <= 1e-4) and every
channel the masks prune is gone from the shrunk model. Each model runs in its own
process, so one crash or out-of-memory is one failed row.

Run: python -m bench.prunability [--models ResNet50 VGG16 ...] [--runs 100] [--no-tflite]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

from bench import common

common.quiet_tensorflow()

import numpy as np  # noqa: E402
import keras  # noqa: E402

import kerasprune  # noqa: E402
import tflite_export  # noqa: E402
from kerasprune import Channels, shrink  # noqa: E402
from kerasprune.structured.channel_groups import channel_groups  # noqa: E402
from kerasprune.structured.group_selection import LayersLeftWholeWarning  # noqa: E402
from tflite_export.benchmarking import set_single_sample, time_blocked, time_interleaved  # noqa: E402

SECTION = "prunability"
SIZES = {"InceptionV3": 96, "InceptionResNetV2": 96, "Xception": 96, "NASNetMobile": 96,
         "NASNetLarge": 96}
DEFAULT_SIZE = 64


def constructors() -> list[str]:
    """Every model constructor keras.applications exports."""
    return sorted(n for n in dir(keras.applications)
                  if n[0].isupper() and callable(getattr(keras.applications, n)))


def build(name: str) -> keras.Model:
    size = SIZES.get(name, DEFAULT_SIZE)
    constructor = getattr(keras.applications, name)
    try:
        return constructor(weights=None, input_shape=(size, size, 3),
                           classifier_activation=None)
    except TypeError:  # a constructor without classifier_activation
        return constructor(weights=None, input_shape=(size, size, 3))


def logits_layer(model: keras.Model) -> str:
    """The last layer with weights: the classifier the user leaves whole."""
    return [layer for layer in model.layers if layer.weights][-1].name


def channel_counts(model: keras.Model, names: set[str] | None = None) -> dict[str, int]:
    """Output channels per channel-holding layer (conv, dense, depthwise, ...) by name."""
    counts: dict[str, int] = {}
    for member in channel_groups(model).members:
        name = member.slot.layer.name
        if names is None or name in names:
            counts[name] = max(counts.get(name, 0), int(member.slot.atoms.size))
    return counts


def masked_counts(pruned: keras.Model) -> dict[str, int]:
    """Channels each pruned layer's masks keep (along the layer's channel axis)."""
    counts = {}
    for member in channel_groups(pruned).members:
        wrapper = member.wrapper
        if wrapper is None or not member.slot.scored:
            continue
        name = member.slot.scored[0]
        mask = np.asarray(wrapper.masks[wrapper.weight_names.index(name)])
        axis = member.slot.axes[name] % mask.ndim
        counts[member.slot.layer.name] = int(np.moveaxis(mask, axis, 0).reshape(
            mask.shape[axis], -1).any(axis=1).sum())
    return counts


def one_model(name: str, runs: int, with_tflite: bool, tflite_max_params: float) -> dict:
    keras.utils.set_random_seed(0)
    start = time.time()
    model = build(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pruned = kerasprune.prune(model, pattern=Channels("l1"), exclude=[logits_layer(model)])
        kerasprune.update_masks(pruned, 0.5)
    left_whole = channel_groups(pruned).left_whole
    small = shrink(pruned)
    x = np.random.default_rng(0).random((2,) + tuple(model.input.shape[1:]), dtype=np.float32)
    masked_out, small_out = np.asarray(pruned(x)), np.asarray(small(x))
    relative = float(np.abs(masked_out - small_out).max() / max(np.abs(masked_out).max(), 1e-12))
    masked = masked_counts(pruned)
    dense_channels = channel_counts(model, set(masked))
    shrunk_channels = channel_counts(small, set(masked))
    removed_all = all(shrunk_channels.get(n, 0) == c for n, c in masked.items())
    dense_groups, small_groups = channel_groups(model), channel_groups(small)
    row = {
        "model": name, "input": int(model.input.shape[1]),
        "channels": sum(shrunk_channels.values()) / max(sum(dense_channels.values()), 1),
        "params": small.count_params() / model.count_params(),
        "macs": small_groups.cost(np.zeros(small_groups.count, bool))[0]
        / dense_groups.cost(np.zeros(dense_groups.count, bool))[0],
        "relative_difference": relative, "removed_all": removed_all,
        "left_whole": len(left_whole), "pruned_layers": len(masked),
        "why_left_whole": sorted(set(_short(r) for r in left_whole.values())),
        "other_warnings": sorted({str(w.message)[:160] for w in caught
                                  if not issubclass(w.category, LayersLeftWholeWarning)}),
    }
    if with_tflite and model.count_params() <= tflite_max_params:
        row.update(tflite_latency(model, small, x[:1], runs))
    row["seconds"] = time.time() - start
    return row


def tflite_latency(model, small, x, runs: int) -> dict:
    loaded = [tflite_export.load_interpreter(tflite_export.convert(m, sparse=False),
                                             num_threads=1) for m in (model, small)]
    interpreters = [item.interpreter for item in loaded]
    for interpreter in interpreters:
        set_single_sample(interpreter, x)
    blocked = [float(np.median(t)) * 1e6 for t in time_blocked(
        interpreters, runs=runs, warmup=5, block=max(1, runs // 5))]
    interleaved = [float(np.median(t)) * 1e6
                   for t in time_interleaved(interpreters, runs=runs, warmup=5)]
    return {"dense_us": blocked[0], "shrunk_us": blocked[1],
            "speedup_blocked": blocked[0] / blocked[1],
            "speedup_interleaved": interleaved[0] / interleaved[1],
            "resolvers": sorted({item.resolver for item in loaded})}


def _short(reason: str) -> str:
    """A reason without the layer's name, so that reasons of many layers group."""
    if "enters" in reason and "(" in reason:
        return "enters a " + reason[reason.index("(") + 1:reason.index(")")] + " layer"
    if "not constant after" in reason and "(" in reason:
        return "joined with channels of a " + reason[reason.index("(") + 1:reason.index(")")]
    return reason.split("'")[0].strip() if "'" in reason else reason


def run_isolated(name: str, runs: int, with_tflite: bool, tflite_max_params: float) -> dict:
    command = [sys.executable, "-m", "bench.prunability", "--one", name, "--runs", str(runs),
               "--tflite-max-params", str(tflite_max_params)]
    if not with_tflite:
        command.append("--no-tflite")
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if done.returncode == 0 and lines:
        return json.loads(lines[-1])
    error = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"model": name, "error": f"exit code {done.returncode}: {error[:300]}"}


def table(rows: list[dict], with_tflite: bool) -> list[str]:
    header = ("| model | input | channels kept | params kept | MACs kept | max rel. diff "
              "| all pruned removed | layers left whole |")
    rule = "|---|---:|---:|---:|---:|---:|---|---:|"
    if with_tflite:
        header += " TFLite dense | TFLite shrunk | speed-up (blocked) | (interleaved) |"
        rule += "---:|---:|---:|---:|"
    lines = [header, rule]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | failed: {r['error']} |")
            continue
        line = (f"| {r['model']} | {r['input']} | {r['channels']:.3f} | {r['params']:.3f} "
                f"| {r['macs']:.3f} | {r['relative_difference']:.1e} "
                f"| {'yes' if r['removed_all'] else 'NO'} "
                f"| {r['left_whole']} of {r['pruned_layers']} |")
        if with_tflite and "dense_us" in r:
            line += (f" {r['dense_us'] / 1e3:.2f} ms | {r['shrunk_us'] / 1e3:.2f} ms "
                     f"| {r['speedup_blocked']:.2f}x | {r['speedup_interleaved']:.2f}x |")
        elif with_tflite:
            line += " - | - | - | - |"
        lines.append(line)
    return lines


def exact(row: dict) -> bool:
    return "error" not in row and row["removed_all"] and row["relative_difference"] <= 1e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--no-tflite", action="store_true")
    parser.add_argument("--tflite-max-params", type=float, default=30e6,
                        help="time TFLite only for models with at most this many parameters")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with_tflite = not args.no_tflite
    if args.one:
        print(json.dumps(one_model(args.one, args.runs, with_tflite, args.tflite_max_params)))
        return
    rows = []
    for name in args.models or constructors():
        rows.append(run_isolated(name, args.runs, with_tflite, args.tflite_max_params))
        print(json.dumps(rows[-1]), flush=True)
    write(rows, args, with_tflite)


def write(rows: list[dict], args, with_tflite: bool) -> None:
    good = [r for r in rows if exact(r)]
    failures = [r for r in rows if not exact(r)]
    partial = [r for r in good if r["left_whole"]]
    text = "\n".join([
        "## Prunability: keras.applications at 50% of the channels (bench/prunability.py)",
        "",
        "The plain user call on every keras.applications constructor (weights=None, "
        f"{DEFAULT_SIZE}x{DEFAULT_SIZE} inputs, 96x96 for the Inception, Xception and NASNet "
        "families, logits out): `prune(model, pattern=Channels(\"l1\"), "
        "exclude=[<logits>])`, `update_masks(pruned, 0.5)`, `shrink(pruned)`. Channels "
        "are those of the pruned layers (convs, depthwise convs, Dense), parameters of the "
        "whole model, MACs those of the layers kerasprune follows. `max rel. diff`: "
        "max |masked - shrunk| / max |masked| on two random inputs. TFLite float32, "
        f"batch 1, 1 thread, median of {args.runs} invokes, for the models of at most "
        f"{args.tflite_max_params / 1e6:.0f} M parameters (converting the larger ones takes "
        "many GB of memory); blocked: each model in blocks "
        "of consecutive invokes after 5 warm-up invokes, blocks alternated over 5 rounds; "
        "interleaved: the two models alternated invoke by invoke.",
        "",
        f"**{len(good)} of {len(rows)} models shrink exactly** (outputs agree to 1e-4 and "
        "every pruned channel is removed).",
        "",
        *table(rows, with_tflite),
        "",
        "Failures:" if failures else "Failures: none.",
        *[f"- {r['model']}: {r.get('error') or _failure(r)}" for r in failures],
        "",
        "Models with layers left whole (exact, but not every layer pruned), and why:",
        *[f"- {r['model']}: {r['left_whole']} of {r['pruned_layers']} layers; "
          f"{'; '.join(r['why_left_whole'])}" for r in partial],
        "",
        f"Command: `{common.command_line()}`  ",
        f"Machine: {common.machine_info()}",
    ])
    common.write_section(SECTION, text)
    print(text)


def _failure(row: dict) -> str:
    if row["relative_difference"] > 1e-4:
        return f"outputs differ (relative {row['relative_difference']:.1e})"
    return "some pruned channels were not removed by shrink"


if __name__ == "__main__":
    main()
