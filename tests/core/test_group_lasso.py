"""GroupLasso: the penalty over a pattern's groups, attached through the wrappers."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune.core.group_lasso import GroupLasso

from kerasprune.core.group_lasso import group_rms

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("pattern, group_of", [
    (kerasprune.Unstructured(), lambda w: w.reshape(-1, 1)),
    (kerasprune.Channels(), lambda w: w.reshape(-1, w.shape[-1]).T),
    (kerasprune.Blocks((4, 1)), lambda w: w.reshape(2, 4, 3).transpose(0, 2, 1).reshape(-1, 4)),
    (kerasprune.NM(2, 4), lambda w: w.T.reshape(-1, 4)),
], ids=["l1", "channels", "blocks", "nm"])
def test_penalty_is_the_size_weighted_sum_of_group_norms(pattern, group_of):
    w = RNG.normal(size=(8, 3)).astype("float32")
    groups = group_of(w.astype(np.float64))
    expected = 0.01 * sum(np.sqrt(g.size) * np.linalg.norm(g) for g in groups)
    assert float(GroupLasso(0.01, pattern)(w)) == pytest.approx(expected, rel=1e-5)
    rms, _ = group_rms(pattern, w)
    np.testing.assert_allclose(np.sort(rms), np.sort([np.sqrt(np.mean(g ** 2)) for g in groups]),
                               rtol=1e-6)


def test_prune_attaches_the_penalty_through_the_wrappers():
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(4, name="a", kernel_regularizer=keras.regularizers.L2(0.5)),
        keras.layers.Dense(2, name="b"),
    ])
    pruned = kerasprune.prune(model, penalty=0.1, pattern=kerasprune.Channels())
    a, b = kerasprune.prune_wrappers(pruned)
    expected = sum(float(GroupLasso(0.1, kerasprune.Channels())(w.layer.kernel)) for w in (a, b))
    expected += 0.5 * float(np.sum(np.square(a.layer.kernel.numpy())))
    assert float(sum(pruned.losses)) == pytest.approx(expected, rel=1e-5)
    assert a.penalized and b.penalized
    a.remove_penalty()
    assert not a.penalized and isinstance(a.layer.kernel.regularizer, keras.regularizers.L2)
    clone = kerasprune.PruneWrapper.from_config(b.get_config())
    assert clone.penalty == 0.1


def test_penalty_strength_is_checked_before_copying():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="Received: penalty=-1"):
        kerasprune.prune(model, penalty=-1)
    with pytest.raises(ValueError, match="Received: strength=0"):
        GroupLasso(0)
    regularizer = GroupLasso(0.2, kerasprune.Blocks((2, 1)))
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(regularizer))
    assert clone.strength == 0.2 and clone.pattern.block_shape == (2, 1)
