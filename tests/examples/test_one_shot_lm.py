"""examples/one_shot_lm.py at a tiny size: a KerasHub decoder trained, pruned by each criterion."""

import numpy as np
import pytest

from examples import one_shot_lm


def test_the_text_is_split_into_training_and_held_out_topics():
    train, held_out = one_shot_lm.topics_text()
    assert len(train) > 8 * len(held_out) > 0
    assert held_out not in train
    windows = one_shot_lm.sequences(held_out, 16)
    assert windows.shape[1] == 17 and windows.dtype == np.int32
    text = bytes(windows[0].astype(np.uint8)).decode("utf-8", "replace")
    assert text == held_out[:17].lower()  # the ByteTokenizer lowercases (its default)


def test_the_example_prints_a_perplexity_table_for_each_criterion(capsys):
    result = one_shot_lm.main(["--layers", "1", "--hidden", "16", "--length", "16",
                               "--steps", "3", "--calibration", "8", "--held-out", "8"])
    rows = [(pattern, c) for pattern in ("50%", "2:4") for c in one_shot_lm.CRITERIA]
    assert sorted(result["perplexity"]) == sorted(rows)
    assert all(result["sparsity"][row] == 0.5 for row in rows)
    assert all(1.0 < result["perplexity"][row] < 1000 for row in rows)
    assert 1.0 < result["dense"] < 1000
    printed = capsys.readouterr().out.splitlines()
    assert printed[-3].split() == list(one_shot_lm.CRITERIA)
    assert [line.split()[0] for line in printed[-2:]] == ["50%", "2:4"]
