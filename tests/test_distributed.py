"""Masks under distribution equal one device's: MultiWorkerMirroredStrategy, JAX DataParallel.

The distributed runs are child processes of tests/distributed_checks.py (a TF_CONFIG
worker pair on 127.0.0.1; JAX with two virtual CPU devices); the masks they save are
compared with a one-device run of the same code.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests import backend_checks, distributed_checks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(mode, out, **env):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.distributed_checks", mode, str(out)], cwd=ROOT,
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process):
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 0, output[-3000:]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def assert_same_pruning(single, distributed):
    one, many = np.load(single), np.load(distributed)
    assert sorted(one.files) == sorted(many.files)
    masks = [name for name in one.files if name.startswith("mask")]
    for name in masks:
        np.testing.assert_array_equal(one[name], many[name], err_msg=name)
        kernel = many[name.replace("mask", "kernel")]
        assert np.all(kernel[many[name] == 0] == 0)
        np.testing.assert_allclose(kernel, one[name.replace("mask", "kernel")], atol=1e-5)
    total = sum(one[n].size for n in masks)
    zeros = sum(int((one[n] == 0).sum()) for n in masks)
    assert abs(zeros / total - 0.7) < 1e-3


def test_multi_worker_mirrored_strategy_gives_the_masks_of_one_device(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(start("multi_worker_loop", tmp_path / f"worker{index}.npz",
                               KERAS_BACKEND="tensorflow", TF_CONFIG=json.dumps(config)))
    distributed_checks.save(str(tmp_path / "single.npz"),
                            distributed_checks.train_with_loop(tf.distribute.get_strategy()))
    for process in processes:
        finish(process)
    for index in range(2):
        assert_same_pruning(tmp_path / "single.npz", tmp_path / f"worker{index}.npz")


def test_jax_data_parallel_on_two_devices_gives_the_masks_of_one_device(tmp_path):
    finish(start("data_parallel_fit", tmp_path / "single.npz", KERAS_BACKEND="jax",
                 XLA_FLAGS="--xla_force_host_platform_device_count=2 "
                 + backend_checks.QUICK_COMPILE))
    assert_same_pruning(tmp_path / "single.npz", tmp_path / "single_parallel.npz")
