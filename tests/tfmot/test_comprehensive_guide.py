"""TFMOT's pruning comprehensive guide, section by section, with only the import changed.

Each test follows one section of the guide (tensorflow/model-optimization,
`comprehensive_guide`): the code is the guide's, on Keras 3 (`import keras`) and
`import kerasprune.tfmot as tfmot`; the data is larger than the guide's single sample so
that its default schedule (`ConstantSparsity(0.5, 0)`: every 100 steps) has steps to run.
"""

import os
import tempfile
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasprune.tfmot as tfmot
from tests.helpers import read_scalars

input_shape = [20]
rng = np.random.default_rng(0)
x_train = rng.standard_normal((128, 20)).astype(np.float32)
y_train = keras.utils.to_categorical(rng.integers(0, 20, 128), num_classes=20)


def setup_model():
    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(20),
                             keras.layers.Flatten()])


@pytest.fixture(scope="module")
def pretrained_weights(tmp_path_factory):
    model = setup_model()
    model.compile(loss=keras.losses.categorical_crossentropy, optimizer="adam",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, verbose=0)
    path = str(tmp_path_factory.mktemp("weights") / "pretrained.weights.h5")
    model.save_weights(path)
    return path


def get_gzipped_model_size(model):
    _, keras_file = tempfile.mkstemp(".keras")
    model.save(keras_file, include_optimizer=False)
    _, zipped_file = tempfile.mkstemp(".zip")
    with zipfile.ZipFile(zipped_file, "w", compression=zipfile.ZIP_DEFLATED) as f:
        f.write(keras_file)
    return os.path.getsize(zipped_file)


def test_prune_whole_model(pretrained_weights):
    base_model = setup_model()
    base_model.load_weights(pretrained_weights)
    model_for_pruning = tfmot.sparsity.keras.prune_low_magnitude(base_model)
    model_for_pruning.summary()
    # As in TFMOT: every layer wrapped (Flatten with nothing to prune), the layers themselves.
    assert [type(l).__name__ for l in model_for_pruning.layers] == [
        "PruneLowMagnitude", "PruneLowMagnitude"]
    assert model_for_pruning.layers[0].layer is base_model.layers[0]


def test_prune_some_layers_with_clone_model(pretrained_weights):
    base_model = setup_model()
    base_model.load_weights(pretrained_weights)

    def apply_pruning_to_dense(layer):
        if isinstance(layer, keras.layers.Dense):
            return tfmot.sparsity.keras.prune_low_magnitude(layer)
        return layer

    model_for_pruning = keras.models.clone_model(base_model,
                                                 clone_function=apply_pruning_to_dense)
    assert [l.name for l in model_for_pruning.layers] == [
        f"prune_low_magnitude_{base_model.layers[0].name}", base_model.layers[1].name]
    _train(model_for_pruning, epochs=1, batch_size=1)
    assert model_for_pruning.layers[0].sparsity == pytest.approx(0.5)


def test_functional_and_sequential_definitions():
    i = keras.Input(shape=(20,))
    x = tfmot.sparsity.keras.prune_low_magnitude(keras.layers.Dense(10))(i)
    o = keras.layers.Flatten()(x)
    functional = keras.Model(inputs=i, outputs=o)
    sequential = keras.Sequential([
        keras.Input(input_shape),
        tfmot.sparsity.keras.prune_low_magnitude(keras.layers.Dense(20)),
        keras.layers.Flatten(),
    ])
    for model in (functional, sequential):
        _train(model, epochs=1, batch_size=1)
        assert model.layers[1 if model is functional else 0].sparsity == pytest.approx(0.5)


def test_custom_prunable_layer_prunes_kernel_and_bias():
    class MyDenseLayer(keras.layers.Dense, tfmot.sparsity.keras.PrunableLayer):
        def get_prunable_weights(self):
            return [self.kernel, self.bias]

    model_for_pruning = keras.Sequential([
        keras.Input(input_shape),
        tfmot.sparsity.keras.prune_low_magnitude(MyDenseLayer(20)),
        keras.layers.Flatten(),
    ])
    wrapper = model_for_pruning.layers[0]
    assert wrapper.weight_names == ["kernel", "bias"]
    _train(model_for_pruning, epochs=1, batch_size=1)
    assert np.count_nonzero(wrapper.layer.bias) < 20  # the bias was pruned too


def test_model_fit_with_summaries(pretrained_weights, tmp_path):
    base_model = setup_model()
    base_model.load_weights(pretrained_weights)
    model_for_pruning = tfmot.sparsity.keras.prune_low_magnitude(base_model)
    log_dir = str(tmp_path)
    callbacks = [
        tfmot.sparsity.keras.UpdatePruningStep(),
        tfmot.sparsity.keras.PruningSummaries(log_dir=log_dir),
    ]
    model_for_pruning.compile(loss=keras.losses.categorical_crossentropy, optimizer="adam",
                              metrics=["accuracy"])
    model_for_pruning.fit(x_train, y_train, callbacks=callbacks, epochs=2, batch_size=1,
                          verbose=0)
    kernel = np.asarray(model_for_pruning.layers[0].layer.kernel)
    assert np.mean(kernel == 0) == pytest.approx(0.5)
    pruning = read_scalars(tmp_path / "metrics")  # TFMOT's folder and tags
    tag = f"prune_low_magnitude_{base_model.layers[0].name}/mask:0/sparsity"
    assert [t for t in pruning if t.endswith("/sparsity")] == [tag]
    # Written at each epoch's start: step 0 (dense), then 128 (pruned at step 100).
    assert pruning[tag] == [(0, 0.0), (128, 0.5)]
    assert "epoch_loss" in read_scalars(tmp_path / "train")


def test_custom_training_loop(pretrained_weights, tmp_path):
    base_model = setup_model()
    base_model.load_weights(pretrained_weights)
    model_for_pruning = tfmot.sparsity.keras.prune_low_magnitude(
        base_model, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, 0, frequency=1))
    loss = keras.losses.categorical_crossentropy
    optimizer = keras.optimizers.Adam()
    unused_arg = -1
    epochs = 2
    batches = 1

    model_for_pruning.optimizer = optimizer
    step_callback = tfmot.sparsity.keras.UpdatePruningStep()
    step_callback.set_model(model_for_pruning)
    log_callback = tfmot.sparsity.keras.PruningSummaries(log_dir=str(tmp_path))
    log_callback.set_model(model_for_pruning)

    step_callback.on_train_begin()
    for _ in range(epochs):
        log_callback.on_epoch_begin(epoch=unused_arg)
        for _ in range(batches):
            step_callback.on_train_batch_begin(batch=unused_arg)
            with tf.GradientTape() as tape:
                logits = model_for_pruning(x_train, training=True)
                loss_value = loss(y_train, logits)
                grads = tape.gradient(loss_value, model_for_pruning.trainable_variables)
                optimizer.apply_gradients(zip(grads, model_for_pruning.trainable_variables))
        step_callback.on_epoch_end(batch=unused_arg)

    assert step_callback.step == 2
    kernel = np.asarray(model_for_pruning.layers[0].layer.kernel)
    assert np.mean(kernel == 0) == pytest.approx(0.5)  # still after the optimizer's steps
    tag = f"prune_low_magnitude_{base_model.layers[0].name}/mask:0/sparsity"
    assert read_scalars(tmp_path / "metrics")[tag][-1] == (1, 0.5)


def test_training_without_the_step_callback_is_an_error():
    model = tfmot.sparsity.keras.prune_low_magnitude(setup_model())
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    with pytest.raises(tf.errors.InvalidArgumentError, match="UpdatePruningStep"):
        model.fit(x_train, y_train, verbose=0)


def test_checkpoint_and_deserialize_keep_the_step(pretrained_weights, tmp_path):
    base_model = setup_model()
    base_model.load_weights(pretrained_weights)
    model_for_pruning = tfmot.sparsity.keras.prune_low_magnitude(base_model)
    with pytest.warns(UserWarning, match="first prunes at step 100"):
        _train(model_for_pruning, epochs=1, batch_size=2)  # 64 steps: not pruned yet
    keras_model_file = str(tmp_path / "model.keras")
    model_for_pruning.save(keras_model_file, include_optimizer=True)
    with tfmot.sparsity.keras.prune_scope():
        loaded_model = keras.models.load_model(keras_model_file)
    loaded_model.summary()
    step = tfmot.sparsity.keras.UpdatePruningStep()
    loaded_model.fit(x_train, y_train, epochs=1, batch_size=2, callbacks=[step], verbose=0)
    assert step.step == 128  # went on from 64: pruned at step 100
    assert loaded_model.layers[0].sparsity == pytest.approx(0.5)


def test_legacy_hdf5_file_loads_in_prune_scope(tmp_path):
    model = tfmot.sparsity.keras.prune_low_magnitude(
        setup_model(), pruning_schedule=tfmot.sparsity.keras.PolynomialDecay(0.2, 0.8, 0, 50, frequency=10))
    _train(model, epochs=1, batch_size=1)
    model.save(tmp_path / "model.h5")
    with tfmot.sparsity.keras.prune_scope():
        loaded = keras.models.load_model(tmp_path / "model.h5")
    wrapper = loaded.layers[0]
    assert wrapper.pruning_schedule.get_config() == model.layers[0].pruning_schedule.get_config()
    np.testing.assert_array_equal(wrapper.masks[0], model.layers[0].masks[0])
    assert wrapper.sparsity == pytest.approx(0.8)


def test_export_with_size_compression(pretrained_weights):
    base_model = setup_model()
    base_model.load_weights(pretrained_weights)
    model_for_pruning = tfmot.sparsity.keras.prune_low_magnitude(
        base_model, pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.9, 0, frequency=1))
    _train(model_for_pruning, epochs=1, batch_size=128)
    model_for_export = tfmot.sparsity.keras.strip_pruning(model_for_pruning)
    assert [type(l).__name__ for l in model_for_export.layers] == ["Dense", "Flatten"]
    np.testing.assert_allclose(model_for_export.predict(x_train, verbose=0),
                               model_for_pruning.predict(x_train, verbose=0), atol=1e-6)
    assert get_gzipped_model_size(model_for_export) < get_gzipped_model_size(model_for_pruning)


def test_block_sparsity_for_hardware():
    base_model = setup_model()
    pruning_params = {"block_size": [1, 16]}
    model_for_pruning = tfmot.sparsity.keras.prune_low_magnitude(base_model, **pruning_params)
    _train(model_for_pruning, epochs=1, batch_size=1)
    mask = np.asarray(model_for_pruning.layers[0].masks[0])
    blocks = mask[:, :16]  # each row's first 16 outputs form one block
    assert set(np.unique(blocks.sum(axis=1))) <= {0.0, 16.0}
    assert 0 < blocks.sum() < blocks.size


def _train(model, *, epochs, batch_size):
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    labels = y_train[:, : model.outputs[0].shape[-1]]
    model.fit(x_train, labels, epochs=epochs, batch_size=batch_size, verbose=0,
              callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
