"""RigL: drop the weakest live weights, regrow where the gradient is largest, same sparsity."""

import keras
import numpy as np
import pytest

import kerasprune
from kerasprune import CriterionData, RigLCallback
from kerasprune.core.regrowth import drop_and_grow
from tests.helpers import compile_classifier, masks_of, small_cnn

RNG = np.random.default_rng(0)


def test_drop_and_grow_moves_the_weakest_to_the_steepest():
    weight = RNG.normal(size=(12, 10))
    mask = (RNG.random((12, 10)) > 0.7).astype("float32")
    weight *= mask
    gradient = RNG.normal(size=(12, 10))
    new, regrown = drop_and_grow(kerasprune.Unstructured(), weight, mask, gradient, 0.3)
    alive = np.flatnonzero(mask.ravel())
    k = len(alive) - round(len(alive) * 0.7)
    survivors = alive[np.argsort(np.abs(weight.ravel()[alive]), kind="stable")[k:]]
    candidates = np.setdiff1d(np.arange(weight.size), survivors)
    grown = candidates[np.argsort(-np.abs(gradient.ravel()[candidates]), kind="stable")[:k]]
    expected = np.zeros(weight.size)
    expected[np.concatenate([survivors, grown])] = 1
    np.testing.assert_array_equal(new.ravel(), expected)
    assert new.sum() == mask.sum()
    assert regrown == int((new.ravel()[mask.ravel() == 0] == 1).sum()) > 0


def test_drop_and_grow_keeps_blocks_whole():
    pattern = kerasprune.Blocks((4, 1))
    weight = RNG.normal(size=(16, 3))
    keep = RNG.random(12) > 0.5
    mask = pattern.expand(keep, weight.shape)
    new, _ = drop_and_grow(pattern, weight * mask, mask, RNG.normal(size=(16, 3)), 0.5)
    assert new.sum() == mask.sum()
    blocks = new.reshape(4, 4, 3)
    assert np.all(blocks.min(axis=1) == blocks.max(axis=1))  # every block all-in or all-out


def _rigl_run(digits, epochs, callbacks_for, fits=((0, None),)):
    (x, y), _ = digits
    keras.utils.set_random_seed(1)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    for initial_epoch, stop in fits:
        model.fit(x[:640], y[:640], epochs=stop or epochs, initial_epoch=initial_epoch,
                  batch_size=64, shuffle=False, callbacks=callbacks_for(), verbose=0)
    return model


def test_rigl_regrows_while_the_sparsity_stays_at_the_target(digits):
    (x, y), _ = digits
    counts = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            counts.append(tuple(int(m.sum()) for m in masks_of(self.model)))

    importance = CriterionData(x[:256], y[:256], batch_size=128)
    rigl = RigLCallback(0.8, data=importance, update_every=4, drop_fraction=0.4,
                        end_epoch=2)
    keras.utils.set_random_seed(1)
    start = kerasprune.prune(small_cnn())
    model = compile_classifier(kerasprune.prune(kerasprune.strip(start)))
    model.set_weights(start.get_weights())
    history = model.fit(x[:640], y[:640], epochs=3, batch_size=64, callbacks=[rigl, Watch()],
                        verbose=0)
    assert len(counts) == 30 and len(set(counts)) == 1  # every layer's live count, every step
    assert 1 - sum(counts[0]) / sum(m.size for m in masks_of(model)) == pytest.approx(0.8, abs=1e-3)
    assert history.history["sparsity"] == [pytest.approx(0.8, abs=1e-3)] * 3
    # Updates every 4 steps in the first 2 epochs (20 steps), none at 0 or after the end.
    assert [u["step"] for u in rigl.mask_updates] == [4, 8, 12, 16]
    fractions = [u["drop_fraction"] for u in rigl.mask_updates]
    assert fractions == sorted(fractions, reverse=True) and fractions[0] < 0.4
    assert all(u["regrown"] > 0 for u in rigl.mask_updates)
    kerasprune.update_masks(start, 0.8)  # the masks a one-shot prune would have kept
    moved = sum(int(((a == 0) & (b == 1)).sum()) for a, b in zip(masks_of(start), masks_of(model)))
    assert moved > 0
    for kernel, mask in zip([np.asarray(v) for w in kerasprune.prune_wrappers(model)
                             for v in w.pruned_weights], masks_of(model)):
        assert np.all(kernel[mask == 0] == 0.0)


def test_rigl_resumes_a_split_fit_exactly(digits):
    (x, y), _ = digits
    importance = CriterionData(x[:128], y[:128], batch_size=64)

    def make():
        return [RigLCallback(0.7, data=importance, update_every=3, end_epoch=3)]

    whole = _rigl_run(digits, 4, make)
    split = _rigl_run(digits, 4, make, fits=((0, 2), (2, 4)))
    for a, b in zip(masks_of(whole), masks_of(split)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(whole.get_weights(), split.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_rigl_refuses_what_it_cannot_do_before_training(digits):
    (x, y), _ = digits
    model = compile_classifier(kerasprune.prune(small_cnn()))
    with pytest.raises(ValueError, match="data=kerasprune.CriterionData"):
        model.fit(x[:64], y[:64], callbacks=[RigLCallback(0.8)], verbose=0)
    with pytest.raises(ValueError, match="data=kerasprune.CriterionData"):
        model.fit(x[:64], y[:64], verbose=0,
                  callbacks=[RigLCallback(0.8, data=CriterionData(x[:64]))])
    assert kerasprune.sparsity_report(model).total == 0.0
    importance = CriterionData(x[:64], y[:64])
    with pytest.raises(ValueError, match="never move"):
        model.fit(x[:64], y[:64], epochs=1, verbose=0,
                  callbacks=[RigLCallback(0.8, data=importance, update_every=50)])
    channels = compile_classifier(kerasprune.prune(small_cnn(), pattern=kerasprune.Channels()))
    with pytest.raises(ValueError, match="unstructured or block patterns"):
        channels.fit(x[:64], y[:64], verbose=0,
                     callbacks=[RigLCallback(0.5, data=importance)])
    with pytest.raises(ValueError, match="drop_fraction"):
        RigLCallback(0.5, drop_fraction=1.0)
    with pytest.raises(ValueError, match="target_sparsity"):
        RigLCallback(0.0)


def test_rigl_config_round_trips():
    rigl = RigLCallback(0.9, update_every=50, drop_fraction=0.2, end_epoch=30)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(rigl))
    assert isinstance(clone, RigLCallback) and clone.get_config() == rigl.get_config()
    assert clone.data is None


def test_rigl_without_end_epoch_moves_masks_for_three_quarters_of_fit(digits):
    (x, y), _ = digits
    importance = CriterionData(x[:64], y[:64])
    rigl = RigLCallback(0.75, data=importance, update_every=1)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    # 4 epochs of 4 steps: updates at steps 1..11, none from 3/4 of the 16 steps on.
    model.fit(x[:64], y[:64], epochs=4, batch_size=16, callbacks=[rigl], verbose=0)
    assert [u["step"] for u in rigl.mask_updates] == list(range(1, 12))


def test_rigl_logs_the_decaying_drop_fraction_of_each_epoch(digits):
    (x, y), _ = digits
    rigl = RigLCallback(0.75, data=CriterionData(x[:64], y[:64]), update_every=2,
                        drop_fraction=0.4, end_epoch=2)
    model = compile_classifier(kerasprune.prune(small_cnn()))
    history = model.fit(x[:64], y[:64], epochs=3, batch_size=16, callbacks=[rigl], verbose=0)
    # f(t) at each epoch's first step (0, 4, 8) of the 8-step update phase.
    assert history.history["drop_fraction"] == pytest.approx([0.4, 0.2, 0.0], abs=1e-7)


def test_the_drop_fraction_decays_on_a_half_cosine_to_zero_and_stays_there():
    rigl = RigLCallback(0.5, update_every=1, drop_fraction=0.4, end_epoch=2)
    rigl.schedule = rigl.make_schedule(4)  # an update phase of 8 steps
    fractions = [rigl.drop_fraction_at(step) for step in (0, 2, 4, 6, 8, 9, 12, 16)]
    assert fractions == pytest.approx([0.4, 0.2 + 0.1 * 2 ** 0.5, 0.2, 0.2 - 0.1 * 2 ** 0.5,
                                       0.0, 0.0, 0.0, 0.0], abs=1e-12)
