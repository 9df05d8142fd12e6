"""A KerasHub `TransformerEncoder` with fewer attention heads than its width implies.

KerasHub's encoder derives its head size from its width and head count, so removing
heads from it would change the size of every head. `shrink` rebuilds an encoder that lost
heads as a `HeadPrunedTransformerEncoder`: the same layer (same call, same sublayer and
variable names) whose attention keeps the original head size.

KerasHub is imported only when such an encoder is built or loaded: the class registered
at import is a stand-in whose `from_config` builds the real subclass on first use, so a
saved shrunk model loads after `import kerasprune` alone.
"""

from __future__ import annotations

import functools

import keras

from kerasprune import _compat

NAME = "HeadPrunedTransformerEncoder"


@functools.cache
def head_pruned_encoder_class() -> type:
    """The `keras_hub.layers.TransformerEncoder` subclass with a `key_dim` argument.

    Example:

    >>> cls = head_pruned_encoder_class()
    >>> encoder = cls(key_dim=8, intermediate_dim=16, num_heads=2)
    >>> encoder.build((None, 5, 32))
    >>> tuple(encoder.weights[0].shape)  # query kernel: width x heads x head size
    (32, 2, 8)
    """
    import keras_hub

    class HeadPrunedTransformerEncoder(keras_hub.layers.TransformerEncoder):
        """A `TransformerEncoder` whose heads have `key_dim` dimensions each."""

        def __init__(self, key_dim: int, **kwargs):
            super().__init__(**kwargs)
            self.key_dim = key_dim

        def build(self, inputs_shape):
            super().build(inputs_shape)
            old = _compat.encoder_attention(self)
            attention = keras.layers.MultiHeadAttention(
                num_heads=self.num_heads, key_dim=self.key_dim, dropout=self.dropout,
                kernel_initializer=self.kernel_initializer,
                bias_initializer=self.bias_initializer, dtype=self.dtype_policy,
                name=old.name)
            attention.build(query_shape=inputs_shape, value_shape=inputs_shape)
            _compat.replace_encoder_attention(self, attention)

        def get_config(self):
            return {**super().get_config(), "key_dim": self.key_dim}

    keras.saving.register_keras_serializable("kerasprune", NAME)(HeadPrunedTransformerEncoder)
    return HeadPrunedTransformerEncoder


@keras.saving.register_keras_serializable("kerasprune", NAME)
class _StandIn:
    """Registered until the real class exists: loading a config builds that class."""

    @classmethod
    def from_config(cls, config: dict):
        return head_pruned_encoder_class().from_config(config)

    def get_config(self) -> dict:
        raise NotImplementedError("only the real class is ever instantiated")
