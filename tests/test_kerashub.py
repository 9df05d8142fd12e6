"""KerasHub backbones and tasks from small configs (no download): prune, GMP, strip, save.

BERT (an encoder, behind `BertTextClassifier`) and GPT-2 (a decoder, behind
`GPT2CausalLM`) are Functional subclasses: `prune` keeps their classes, the wrappers sit
in their graphs, and `strip` gives back the same classes with plain layers.
"""

import re
import warnings

import keras
import keras_hub
import numpy as np
import pytest

import kerasprune
from examples.datasets import load_docstring_topics

LENGTH = 12


def token_ids(vocabulary_size):
    """Real sentences as word ids (ids >= 1, 0 pads), cut or padded to LENGTH + 1."""
    (texts, labels), _ = load_docstring_topics()
    words = sorted({w for t in texts for w in re.findall(r"\w+", t.lower())})
    index = {w: 1 + i % (vocabulary_size - 1) for i, w in enumerate(words)}
    ids = np.zeros((64, LENGTH + 1), "int32")
    for row, text in enumerate(texts[:64]):
        found = [index[w] for w in re.findall(r"\w+", text.lower())][: LENGTH + 1]
        ids[row, : len(found)] = found
    return ids, labels[:64]


def bert_classifier():
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=LENGTH)
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    ids, labels = token_ids(64)
    x = {"token_ids": ids[:, :LENGTH], "segment_ids": np.zeros_like(ids[:, :LENGTH]),
         "padding_mask": (ids[:, :LENGTH] > 0).astype("int32")}
    return model, x, labels


def gpt2_causal_lm():
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=LENGTH)
    model = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    ids, _ = token_ids(64)
    x = {"token_ids": ids[:, :LENGTH], "padding_mask": (ids[:, :LENGTH] > 0).astype("int32")}
    return model, x, ids[:, 1:]


@pytest.mark.parametrize("build", [bert_classifier, gpt2_causal_lm])
def test_kerashub_model_prunes_trains_one_gmp_epoch_strips_and_saves(build, tmp_path):
    model, x, y = build()
    with warnings.catch_warnings():
        warnings.simplefilter("error", kerasprune.UnprunableLayerWarning)
        pruned = kerasprune.prune(model)
    # A subclass of the model's own class, of the same name, that saves its wrappers.
    assert isinstance(pruned, type(model)) and type(pruned).__name__ == type(model).__name__
    assert type(pruned.backbone) is type(model.backbone)
    np.testing.assert_allclose(np.asarray(pruned(x)), np.asarray(model(x)), atol=1e-6)

    pruned.compile(optimizer=keras.optimizers.Adam(1e-3),
                   loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    gmp = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                     finetune_epochs=0)
    history = pruned.fit(x, y, batch_size=16, epochs=1, callbacks=[gmp], verbose=0)
    assert history.history["sparsity"] == [0.5]
    rows = kerasprune.sparsity_report(pruned).rows
    attention = [r for r in rows if r.weight.endswith("query/kernel")]
    assert len(attention) == 2  # one per transformer layer
    for row in rows:
        assert abs(row.sparsity - 0.5) <= 0.02, row
    for wrapper in kerasprune.prune_wrappers(pruned):
        for weight, mask in zip(wrapper.pruned_weights, wrapper.masks):
            assert np.all(np.asarray(weight)[np.asarray(mask) == 0] == 0)

    expected = np.asarray(pruned(x))
    plain = kerasprune.strip(pruned)
    assert type(plain) is type(model) and not kerasprune.prune_wrappers(plain)
    np.testing.assert_array_equal(np.asarray(plain(x)), expected)
    plain.save(tmp_path / "plain.keras")
    loaded = keras.saving.load_model(tmp_path / "plain.keras")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(np.asarray(loaded(x)), expected)
    assert kerasprune.sparsity_report(loaded).total == pytest.approx(0.5, abs=0.01)


def test_a_backbone_inside_a_users_functional_model_is_pruned():
    """Copying a plain Functional model re-creates the backbone's encoders unbuilt: the
    wrappers must still know which of their sublayers' kernels to prune."""
    model, x, _ = bert_classifier()
    inputs = {name: keras.Input((LENGTH,), dtype="int32", name=name) for name in x}
    outer = keras.Model(inputs, keras.layers.Dense(2, name="head")(
        model.backbone(inputs)["pooled_output"]))
    pruned = kerasprune.prune(outer, exclude=["head"])
    kerasprune.update_masks(pruned, 0.5)

    rows = {(r.layer, r.weight): r.sparsity for r in kerasprune.sparsity_report(pruned).rows}
    assert rows[("transformer_layer_1", "feedforward_output_dense/kernel")] == 0.5
    np.testing.assert_allclose(np.asarray(kerasprune.strip(pruned)(x)),
                               np.asarray(pruned(x)), atol=1e-6)
