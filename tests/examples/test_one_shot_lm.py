"""examples/one_shot_lm.py at a tiny size: a KerasHub decoder trained, pruned by each criterion."""

import numpy as np

from examples import one_shot_lm


def test_the_text_is_split_into_training_and_held_out_documents():
    documents = one_shot_lm.documents()
    train, held_out = one_shot_lm.english_text()
    assert len(documents) > 500  # the pydoc topics and the standard library's modules
    assert len(train) > 8 * len(held_out) > 0
    assert documents[9] in held_out and documents[9] not in train
    assert documents[0] in train and documents[-1] in train + held_out
    assert "Return" in held_out  # docstrings, not only the language reference
    windows = one_shot_lm.sequences(held_out, 16)
    assert windows.shape[1] == 17 and windows.dtype == np.int32
    text = bytes(windows[0].astype(np.uint8)).decode("utf-8", "replace")
    assert text == held_out[:17].lower()  # the ByteTokenizer lowercases (its default)


def test_training_warms_up_then_decays_and_returns_each_steps_loss():
    model = one_shot_lm.build_lm(1, 16, 2, 8)
    windows = one_shot_lm.sequences("the quick brown fox jumps over the lazy dog. " * 20, 8)
    losses = one_shot_lm.train(model, windows, steps=40, batch_size=4, learning_rate=1e-2,
                               seed=0, verbose=0)
    assert len(losses) == 40 and all(np.isfinite(losses))
    schedule = model.optimizer.get_config()["learning_rate"]["config"]
    assert schedule["warmup_steps"] == 2 and schedule["warmup_target"] == 1e-2
    assert schedule["initial_learning_rate"] == 0.0 and schedule["decay_steps"] == 38
    assert np.mean(losses[-10:]) < np.mean(losses[:10])


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
