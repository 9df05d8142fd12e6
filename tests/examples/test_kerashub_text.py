"""examples/kerashub_text.py at tiny settings: a pruned BERT classifier, stripped and saved."""

import keras
import numpy as np
import pytest

import kerasprune
from examples import kerashub_text


def test_kerashub_example_prunes_strips_and_saves_a_classifier(tmp_path):
    result = kerashub_text.main([
        "--layers", "1", "--hidden", "16", "--dense-epochs", "1", "--pruning-epochs", "1",
        "--finetune-epochs", "0", "--sparsity", "0.6", "--output-dir", str(tmp_path)])
    assert result["sparsity"] == pytest.approx(0.6, abs=0.01)
    assert 0.0 <= result["pruned_accuracy"] <= 1.0
    loaded = keras.saving.load_model(result["path"])
    assert type(loaded).__name__ == "BertTextClassifier"
    assert not kerasprune.prune_wrappers(loaded)
    # The saved file carries its tokenizer: it predicts from raw sentences like the
    # pruned model it was stripped from.
    sentences = result["x_test"][:8]
    np.testing.assert_allclose(loaded.predict(sentences, verbose=0),
                               result["pruned"].predict(sentences, verbose=0), atol=1e-6)
    loaded_rows = kerasprune.sparsity_report(loaded).as_dict()
    for name, sparsity in kerasprune.sparsity_report(result["pruned"]).as_dict().items():
        assert loaded_rows[name] == sparsity
