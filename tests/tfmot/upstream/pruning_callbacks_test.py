# Ported for kerasprune from TensorFlow Model Optimization (Apache-2.0, license below):
#   repository: https://github.com/tensorflow/model-optimization
#   path:       tensorflow_model_optimization/python/core/sparsity/keras/pruning_callbacks_test.py
#   commit:     6fbc2cec3984877251aa6ce961aceb7049cf2b25 (same file as release v0.8.1)
# The file is whole and unchanged except for these replacements, each of something
# Keras 3 does not have:
# - imports: `tensorflow_model_optimization.` -> `kerasprune.tfmot.` (the only change a
#   TFMOT user makes; `...core.keras.compat.keras` is then Keras 3); TFMOT's test helpers
#   `core/keras/test_utils.py` and `core/sparsity/keras/test_utils.py` -> their ports
#   `tests.tfmot.upstream.keras_test_utils` and `...sparsity_test_utils`.
# - `keras.backend.get_value(v)` -> `keras.ops.convert_to_numpy(v)`: Keras 3 has no
#   `keras.backend.get_value`.
# Copyright 2019 The TensorFlow Authors. All Rights Reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ==============================================================================
"""Tests for Pruning callbacks."""

import os
import tempfile

import numpy as np
import tensorflow as tf

# TODO(b/139939526): move to public API.
from tests.tfmot.upstream import keras_test_utils
from kerasprune.tfmot.python.core.keras.compat import keras
from kerasprune.tfmot.python.core.sparsity.keras import prune
from kerasprune.tfmot.python.core.sparsity.keras import pruning_callbacks


errors_impl = tf.errors


class PruneCallbacksTest(tf.test.TestCase):

  _BATCH_SIZE = 20

  def _assertLogsExist(self, log_dir):
    self.assertNotEmpty(os.listdir(log_dir))

  def _pruned_model_setup(self, custom_training_loop=False):
    pruned_model = prune.prune_low_magnitude(
        keras_test_utils.build_simple_dense_model())

    x_train = np.random.rand(self._BATCH_SIZE, 10)
    y_train = keras.utils.to_categorical(
        np.random.randint(5, size=(self._BATCH_SIZE, 1)), 5)

    loss = keras.losses.categorical_crossentropy
    optimizer = keras.optimizers.SGD()

    if custom_training_loop:
      return pruned_model, loss, optimizer, x_train, y_train
    else:
      pruned_model.compile(loss=loss, optimizer=optimizer, metrics=['accuracy'])
      return pruned_model, x_train, y_train

  def testUpdatePruningStepsAndLogsSummaries(self):
    log_dir = tempfile.mkdtemp()
    pruned_model, x_train, y_train = self._pruned_model_setup()
    pruned_model.fit(
        x_train,
        y_train,
        batch_size=self._BATCH_SIZE,
        epochs=3,
        callbacks=[
            pruning_callbacks.UpdatePruningStep(),
            pruning_callbacks.PruningSummaries(log_dir=log_dir)
        ])

    self.assertEqual(
        3, keras.ops.convert_to_numpy(pruned_model.layers[0].pruning_step)
    )
    self.assertEqual(
        3, keras.ops.convert_to_numpy(pruned_model.layers[1].pruning_step)
    )

    self._assertLogsExist(log_dir)

  # This style of custom training loop isn't available in graph mode.
  def testUpdatePruningStepsAndLogsSummaries_CustomTrainingLoop(self):
    log_dir = tempfile.mkdtemp()
    pruned_model, loss, optimizer, x_train, y_train = self._pruned_model_setup(
        custom_training_loop=True)

    unused_arg = -1

    step_callback = pruning_callbacks.UpdatePruningStep()
    log_callback = pruning_callbacks.PruningSummaries(log_dir=log_dir)
    # TODO(tfmot): we need a separate API for custom training loops
    # that doesn't rely on users setting the model and optimizer.
    #
    # Example is currently based on callbacks.py configure_callbacks
    # and model.compile internals.
    step_callback.set_model(pruned_model)
    log_callback.set_model(pruned_model)
    pruned_model.optimizer = optimizer

    step_callback.on_train_begin()
    for _ in range(3):
      log_callback.on_epoch_begin(epoch=unused_arg)
      # only one batch given batch_size = 20 and input shape.
      step_callback.on_train_batch_begin(batch=unused_arg)
      inp = np.reshape(x_train,
                       [self._BATCH_SIZE, 10])  # original shape: from [10].
      with tf.GradientTape() as tape:
        logits = pruned_model(inp, training=True)
        loss_value = loss(y_train, logits)
        grads = tape.gradient(loss_value, pruned_model.trainable_variables)
        optimizer.apply_gradients(zip(grads, pruned_model.trainable_variables))
      step_callback.on_epoch_end(batch=unused_arg)

    self.assertEqual(
        3, keras.ops.convert_to_numpy(pruned_model.layers[0].pruning_step)
    )
    self.assertEqual(
        3, keras.ops.convert_to_numpy(pruned_model.layers[1].pruning_step)
    )
    self._assertLogsExist(log_dir)

  def testUpdatePruningStepsAndLogsSummaries_RunInference(self):
    pruned_model, _, _, x_train, _ = self._pruned_model_setup(
        custom_training_loop=True)
    model_output = pruned_model(x_train)
    del model_output

    self.assertEqual(
        -1, keras.ops.convert_to_numpy(pruned_model.layers[0].pruning_step)
    )
    self.assertEqual(
        -1, keras.ops.convert_to_numpy(pruned_model.layers[1].pruning_step)
    )

  def testPruneTrainingRaisesError_PruningStepCallbackMissing(self):
    pruned_model, x_train, y_train = self._pruned_model_setup()

    # Throws an error since UpdatePruningStep is missing.
    with self.assertRaises(errors_impl.InvalidArgumentError):
      pruned_model.fit(x_train, y_train)

  # This style of custom training loop isn't available in graph mode.
  def testPruneTrainingLoopRaisesError_PruningStepCallbackMissing_CustomTrainingLoop(
      self):
    pruned_model, _, _, x_train, _ = self._pruned_model_setup(
        custom_training_loop=True)

    # Throws an error since UpdatePruningStep is missing.
    with self.assertRaises(errors_impl.InvalidArgumentError):
      inp = np.reshape(x_train, [self._BATCH_SIZE, 10])  # original shape: [10].
      with tf.GradientTape():
        pruned_model(inp, training=True)

  def testPruningSummariesRaisesError_LogDirNotNonEmptyString(self):
    with self.assertRaises(ValueError):
      pruning_callbacks.PruningSummaries(log_dir='')

    with self.assertRaises(ValueError):
      pruning_callbacks.PruningSummaries(log_dir=None)

    with self.assertRaises(ValueError):
      pruning_callbacks.PruningSummaries(log_dir=object())


if __name__ == '__main__':
  tf.test.main()
