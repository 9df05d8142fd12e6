"""Child process of the kill -9 resume tests (`test_resume_after_kill.py`).

`python -m tests.callbacks.resume_child WORKDIR NAME...` works through the scenarios below
in order, keeping its progress in files under WORKDIR. It imports TensorFlow once, then
forks a new process for each piece of work (TensorFlow has run nothing before the fork, so
each one starts as a fresh process would, without the import's seconds):

- a scenario not yet started: start its `fit`, with `keras.callbacks.BackupAndRestore`
  and saving a `.keras` file at every epoch end, and SIGKILL the process at the
  scenario's kill step, mid-cycle;
- a scenario killed before: resume it both ways, by running the same `fit` call again
  (`BackupAndRestore` restores it) and by `load_model` + `fit(initial_epoch=k)`; run
  it as a run stopped on purpose (`fit(epochs=k)`, then `fit(initial_epoch=k)` with a
  new callback); then run the same training uninterrupted from scratch, and store the
  four results in `WORKDIR/<scenario>.npz`.

A new process is forked until one exits 0: one SIGKILL per scenario. The exit codes
(negative: the signal) are printed as a JSON list. Everything is seeded and op
determinism is on, so an exact resume gives bit-identical weights.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasprune  # noqa: E402
from examples.datasets import load_embedded_mnist  # noqa: E402
from kerasprune.callbacks.l0_pruning_callback import L0PruningCallback  # noqa: E402
from kerasprune.callbacks.movement_pruning_callback import MovementPruningCallback  # noqa: E402
from kerasprune.core.l0_gates import L0Gates  # noqa: E402

BATCH = 64
N_SAMPLES = 4 * BATCH  # 4 steps per epoch

# name: (callback factory, fit epochs, kill at (epoch, batch)).
# Every kill falls mid-cycle (or mid pruning stage), after the cycle's pruning and before
# what the resumed run needs from before the kill: ALLR's d1 of the current cycle, the
# rewind weights for the next cycle's rewinding, BIMP's maximum learning rate.
SCENARIOS = {
    "gmp": (
        lambda: kerasprune.PruningCallback(
            0.8, stabilization_epochs=1, pruning_epochs=3, finetune_epochs=1,
            update_every=2, pruning_learning_rate=0.05, finetune_learning_rates=[0.01]),
        5, (3, 2)),
    "imp_allr": (
        lambda: kerasprune.IMPCallback(
            0.9, cycles=2, epochs_per_cycle=2, dense_epochs=1, retrain_schedule="allr",
            original_learning_rate=0.1, original_epochs=3),
        5, (4, 1)),
    "imp_rewind": (
        lambda: kerasprune.IMPCallback(
            0.9, cycles=2, epochs_per_cycle=2, dense_epochs=2, rewind_epoch=1,
            retrain_schedule="lrw", original_learning_rate=0.1),
        6, (3, 2)),
    "bimp": (
        lambda: kerasprune.BIMPCallback(0.9, total_epochs=8, dense_epochs=4, cycles=2),
        8, (7, 1)),
    # movement scores (state variables updated every step) mid pruning stage; L0 gates
    # (their log-alphas and noise seed) mid gate phase.
    "movement": (
        lambda: MovementPruningCallback(
            0.8, stabilization_epochs=1, pruning_epochs=2, finetune_epochs=1, update_every=2),
        4, (2, 1)),
    "l0": (lambda: L0PruningCallback(0.5, gate_epochs=2, finetune_epochs=1), 3, (1, 2)),
    "gmp_random": (  # gradual random removal: the baseline policy resumes as GMP does
        lambda: kerasprune.PruningCallback(
            0.8, stabilization_epochs=0, pruning_epochs=3, finetune_epochs=1,
            update_every=2),
        4, (2, 1)),
}
#: How a scenario's model is pruned, when not `prune(model, scope="global")`.
PRUNE_ARGUMENTS = {"l0": {"layers": ["conv", "hidden"], "pattern": kerasprune.Channels(),
                          "penalty": L0Gates(1e-3)},
                   # gradual random removal: the baseline policy resumes as GMP does
                   "gmp_random": {"scope": "global", "criterion": "random", "seed": 7}}


def data():
    (x, y), _ = load_embedded_mnist(pool=4)
    return x[:N_SAMPLES], y[:N_SAMPLES]


def dense_model() -> keras.Model:
    """The same seeded dense CNN for every scenario (and the quantization child's)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((7, 7, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(10, name="logits"),
    ])


def compiled(model: keras.Model) -> keras.Model:
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def new_model(name: str) -> keras.Model:
    return compiled(kerasprune.prune(dense_model(),
                                     **PRUNE_ARGUMENTS.get(name, {"scope": "global"})))


class KillAt(keras.callbacks.Callback):
    """SIGKILL this process right before batch `batch` of epoch `epoch`."""

    def __init__(self, epoch: int, batch: int):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


class SaveAtEpochEnd(keras.callbacks.Callback):
    """`model.save(path)` at the end of every epoch (the `.keras` resume path)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        self.model.save(self.path)
        self.path.with_suffix(".epoch").write_text(str(epoch + 1))


class FirstEpoch(keras.callbacks.Callback):
    """Records the epoch a fit actually starts at (a resumed fit skips the done ones)."""

    first = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.first is None:
            self.first = epoch


def state(model) -> list[np.ndarray]:
    """Every model weight (masks and pruning state included) and the optimizer's state."""
    return [np.array(v) for v in model.weights] + [
        np.array(v) for v in model.optimizer.variables]


def in_order(name: str, pruning, keep) -> list:
    """Every other scenario lists `BackupAndRestore` first: both orders must resume."""
    return [pruning, keep] if list(SCENARIOS).index(name) % 2 == 0 else [keep, pruning]


RESUME_PATHS = ("backup", "keras_file", "split_fit")


def start_and_kill(name: str, workdir: Path) -> None:
    make_callback, epochs, (epoch, batch) = SCENARIOS[name]
    x, y = data()
    model = new_model(name)
    backup = keras.callbacks.BackupAndRestore(str(workdir / f"{name}_backup"))
    callbacks = [*in_order(name, make_callback(), backup),
                 SaveAtEpochEnd(workdir / f"{name}.keras"), KillAt(epoch, batch)]
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
              callbacks=callbacks)
    raise AssertionError(f"{name}: the fit ended without reaching its kill point")


def resume(name: str, workdir: Path, path: str) -> tuple[keras.Model, dict]:
    """Finish the run: through `BackupAndRestore`, through the `.keras` file, or (in this
    process, no kill) as a run stopped with `fit(epochs=k)` and continued later."""
    make_callback, epochs, (kill_epoch, _) = SCENARIOS[name]
    x, y = data()
    initial_epoch, callbacks = 0, [make_callback()]
    if path == "backup":
        model = new_model(name)  # the same fit call as before the kill
        backup = keras.callbacks.BackupAndRestore(str(workdir / f"{name}_backup"))
        callbacks = in_order(name, callbacks[0], backup)
    elif path == "keras_file":
        saved = workdir / f"{name}.keras"
        model = keras.saving.load_model(saved)
        initial_epoch = int(saved.with_suffix(".epoch").read_text())
    else:
        model = new_model(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the first part warns that it stops early
            model.fit(x, y, batch_size=BATCH, epochs=kill_epoch, shuffle=False, verbose=0,
                      callbacks=[make_callback()])
        initial_epoch = kill_epoch
    first = FirstEpoch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
                            initial_epoch=initial_epoch, callbacks=[*callbacks, first])
    own = [str(w.message) for w in caught  # the callbacks' own warnings
           if "Callback" in str(w.message) or "IMP" in str(w.message)]
    return model, {"first_epoch": first.first, "logs": history.history, "warnings": own}


def uninterrupted(name: str) -> tuple[keras.Model, dict]:
    make_callback, epochs, _ = SCENARIOS[name]
    x, y = data()
    model = new_model(name)
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
                        callbacks=[make_callback()])
    return model, history.history


def finish(name: str, workdir: Path) -> None:
    arrays, record = {}, {}
    for path in RESUME_PATHS:
        model, record[path] = resume(name, workdir, path)
        arrays.update({f"{path}_{i}": a for i, a in enumerate(state(model))})
    model, logs = uninterrupted(name)
    arrays.update({f"reference_{i}": a for i, a in enumerate(state(model))})
    record["reference"] = {"logs": logs}
    np.savez(workdir / f"{name}.npz", **arrays)
    (workdir / f"{name}.json").write_text(json.dumps(record, default=float))


def main(workdir: Path, names: list[str]) -> None:
    tf.config.experimental.enable_op_determinism()
    for name in names:
        if (workdir / f"{name}.npz").exists():
            continue
        killed = workdir / f"{name}.killed"
        if not killed.exists():
            killed.touch()
            start_and_kill(name, workdir)
        finish(name, workdir)


def run_until_done(workdir: Path, names: list[str]) -> list[int]:
    """`main` in a new forked process, again after each SIGKILL; returns the exit codes."""
    codes = []
    for _ in range(len(names) + 1):
        pid = os.fork()
        if pid == 0:  # the child: its own exit, without the parent's exit handlers
            code = 0
            try:
                main(workdir, names)
            except Exception:  # reported through the exit code
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        if codes[-1] != -signal.SIGKILL:
            break
    return codes


if __name__ == "__main__":
    print(json.dumps(run_until_done(Path(sys.argv[1]), sys.argv[2:] or list(SCENARIOS))))
