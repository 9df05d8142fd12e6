"""KerasHub backbones and tasks from small configs (no download): prune, GMP, strip, save.

BERT (an encoder, behind `BertTextClassifier`) and GPT-2 (a decoder, behind
`GPT2CausalLM`) are Functional subclasses: `prune` keeps their classes, the wrappers sit
in their graphs, and `strip` gives back the same classes with plain layers.
"""

import os
import re
import warnings

import keras
import keras_hub
import numpy as np
import pytest

import kerasprune
from kerasprune.core.wrapping import UnprunableLayerWarning
from examples.datasets import load_docstring_topics
from tests.helpers import assert_resumes_from_keras_file

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
        warnings.simplefilter("error", UnprunableLayerWarning)
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
    # The tied token embedding stayed dense; every other kernel holds its zeros.
    assert kerasprune.sparsity_report(loaded).total == kerasprune.sparsity_report(plain).total


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


# Small configs without dropout (Keras does not save a Dropout layer's random state, so a
# resumed run would draw other masks): one layer, width 8, 16 sequences of 8 tokens.
SMALL = dict(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
             max_sequence_length=8, dropout=0.0)


def small_inputs(with_segments: bool) -> dict:
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(1, 50, (16, 8)).astype("int32"),
         "padding_mask": np.ones((16, 8), "int32")}
    x["padding_mask"][:, 6:] = 0
    if with_segments:
        x["segment_ids"] = np.zeros((16, 8), "int32")
    return x


def small_bert_backbone():
    x = small_inputs(True)
    targets = {"sequence_output": np.zeros((16, 8, 8), "float32"),
               "pooled_output": np.zeros((16, 8), "float32")}
    return keras_hub.models.BertBackbone(**SMALL), x, targets


def small_bert_classifier():
    backbone, x, _ = small_bert_backbone()
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None,
                                                dropout=0.0)
    return model, x, (x["token_ids"][:, 0] % 2).astype("float32")


def small_gpt2_backbone():
    x = small_inputs(False)
    return keras_hub.models.GPT2Backbone(**SMALL), x, np.zeros((16, 8, 8), "float32")


def small_gpt2_causal_lm():
    backbone, x, _ = small_gpt2_backbone()
    model = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    return model, x, np.roll(x["token_ids"], -1, axis=1)


SMALL_MODELS = [small_bert_backbone, small_bert_classifier, small_gpt2_backbone,
                small_gpt2_causal_lm]


@pytest.mark.parametrize("build", SMALL_MODELS)
def test_a_pruned_kerashub_model_resumes_from_its_keras_checkpoint(build, tmp_path):
    """The issue's BERT backbone among them: `save` -> `load_model` used to fail with
    "A total of 12 objects could not be loaded"."""
    model, x, y = build()
    pruned = kerasprune.prune(model, scope="global")
    task = isinstance(model, keras_hub.models.Task)
    loss = (keras.losses.SparseCategoricalCrossentropy(from_logits=True) if task else "mse")
    loaded = assert_resumes_from_keras_file(pruned, x, y, tmp_path, loss=loss,
                                            run_eagerly=not task)
    assert isinstance(loaded, type(model)) and type(loaded).__name__ == type(model).__name__
    assert kerasprune.sparsity_report(loaded).total == pytest.approx(0.75, abs=0.01)
    assert [w.name for w in kerasprune.prune_wrappers(loaded)] == [
        w.name for w in kerasprune.prune_wrappers(pruned)]


@pytest.mark.parametrize("build", SMALL_MODELS)
def test_a_pruned_kerashub_model_converts_to_tflite_and_runs_in_litert_with_parity(build):
    """Named (dict) inputs used to fail: the serving function passed a list."""
    import tflite_export

    model, x, _ = build()
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tflite_export.SparsityWarning)  # embeddings, attention
        content = tflite_export.convert(pruned)
    loaded = tflite_export.load_interpreter(content, backends=("ai_edge_litert",))
    runner = loaded.interpreter.get_signature_runner()
    outputs = runner(**{name: value[:4] for name, value in x.items()})
    expected = keras.tree.flatten(pruned({name: value[:4] for name, value in x.items()}))
    assert len(outputs) == len(expected)
    for name, want in zip(sorted(outputs), expected):  # output_0, output_1: sorted dict keys
        np.testing.assert_allclose(outputs[name], np.asarray(want), atol=1e-5, rtol=1e-4)


def test_shrink_keeps_a_kerashub_task_s_class_and_preprocessor_and_saves(tmp_path):
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (
        "the a cat dog sat on mat ran fast slow".split())
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=8)
    backbone = keras_hub.models.BertBackbone(**{**SMALL, "vocabulary_size": len(vocabulary)})
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2,
                                                preprocessor=preprocessor, dropout=0.0)
    pruned = kerasprune.prune(model, pattern=kerasprune.Channels("l1"))
    kerasprune.update_masks(pruned, 0.5)
    small = kerasprune.shrink(pruned)

    assert isinstance(small, keras_hub.models.BertTextClassifier)
    assert type(small).__name__ == "BertTextClassifier"
    assert type(small.preprocessor) is type(preprocessor)
    encoder = small.backbone.transformer_layers[0]
    assert (encoder.num_heads, encoder.intermediate_dim) == (1, 8)  # half of 2 and 16
    assert small.count_params() < kerasprune.strip(pruned).count_params()
    text = np.array(["the cat sat on the mat", "a dog ran fast"])

    def classify(task):  # what `task.predict(text)` computes, without tracing it
        return np.asarray(task(task.preprocessor(text)))

    expected = classify(pruned)
    np.testing.assert_allclose(classify(small), expected, atol=1e-5)

    small.save(tmp_path / "small.keras")
    loaded = keras.saving.load_model(tmp_path / "small.keras")
    assert isinstance(loaded, keras_hub.models.BertTextClassifier)
    assert loaded.backbone.transformer_layers[0].num_heads == 1
    np.testing.assert_allclose(classify(loaded), expected, atol=1e-5)


def test_gpt2_s_tied_token_embedding_is_left_dense_unless_selected():
    """Its table is also the output projection: pruning it would change the logits."""
    model, x, _ = small_gpt2_causal_lm()
    pruned = kerasprune.prune(model)
    assert "token_embedding" not in [w.layer.name for w in kerasprune.prune_wrappers(pruned)]
    kerasprune.update_masks(pruned, 0.5)
    assert np.count_nonzero(np.asarray(pruned.backbone.token_embedding.embeddings) == 0) == 0

    chosen = kerasprune.prune(model, layers=["token_embedding"])
    assert [w.layer.name for w in kerasprune.prune_wrappers(chosen)] == ["token_embedding"]


def test_refusals_hold_for_kerashub_models():
    """README's "Refusals, not surprises", on a BERT classifier."""
    import tflite_export

    model, x, _ = small_bert_classifier()
    with pytest.raises(ValueError, match=r"matches no layer.*transformer_layer_0"):
        kerasprune.prune(model, layers=["nope"])
    pruned = kerasprune.prune(model)
    wrapper = [w for w in kerasprune.prune_wrappers(pruned)
               if w.layer.name == "transformer_layer_0"][0]
    kernel = wrapper.pruned_weights[0]
    values = np.array(kernel)
    values.flat[0] = np.inf
    kernel.assign(values)
    with pytest.raises(ValueError, match="Layer 'transformer_layer_0' has 1 NaN/Inf"):
        kerasprune.update_masks(pruned, 0.5)
    with pytest.raises(ValueError, match="Layer 'query' has 1 NaN/Inf values in its weight "
                                         "'kernel'"):
        tflite_export.convert(pruned)


def test_a_pruned_kerashub_checkpoint_loads_in_a_new_process(tmp_path):
    """There, only `import kerasprune` has run: KerasHub's class is imported on load."""
    import subprocess
    import sys

    model, x, _ = small_bert_backbone()
    pruned = kerasprune.prune(model)
    kerasprune.update_masks(pruned, 0.5)
    pruned.save(tmp_path / "bert.keras")
    np.savez(tmp_path / "x.npz", **x)
    np.save(tmp_path / "expected.npy", np.asarray(pruned(x)["sequence_output"]))
    script = (
        "import sys, keras, numpy as np, kerasprune\n"
        "assert 'keras_hub' not in sys.modules\n"
        f"model = keras.saving.load_model({str(tmp_path / 'bert.keras')!r})\n"
        f"x = dict(np.load({str(tmp_path / 'x.npz')!r}))\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "np.testing.assert_array_equal(np.asarray(model(x)['sequence_output']), expected)\n"
        "print(type(model).__name__, len(kerasprune.prune_wrappers(model)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["BertBackbone",
                                          str(len(kerasprune.prune_wrappers(pruned)))]
