"""The ported TFMOT tests that fail on purpose, each with its reason (README, "Coming from
TFMOT"). They are marked here so that the ported files stay TFMOT's; `strict=True` makes
a test that starts passing an error, so this list cannot go stale.
"""

import pytest

_CHOICE = "kerasprune's choice, more lenient than TFMOT: "
EXPECTED_FAILURES = {
    "prune_test.py::PruneTest::testPruneModelUnsupportedKerasLayerRaisesError":
        _CHOICE + "pruning a whole model leaves a layer TFMOT does not list (here ConvLSTM2D) "
        "dense with an UnprunableLayerWarning instead of refusing the model.",
    "prune_test.py::PruneTest::testPruneModelCustomNonPrunableLayerRaisesError":
        _CHOICE + "pruning a whole model leaves a custom layer TFMOT does not list dense "
        "with an UnprunableLayerWarning instead of refusing the model.",
    "prune_integration_test.py::PruneIntegrationTest::"
    "testSparsityPruningMbyN_SupportedSubclassLayers":
        _CHOICE + "pruning a whole model leaves a custom layer TFMOT does not list dense "
        "with an UnprunableLayerWarning instead of refusing the model.",
    "prune_test.py::PruneTest::testPruneSubclassModel":
        _CHOICE + "subclassed models are pruned (once built); this unbuilt one is refused "
        "with a message saying to build it, not TFMOT's list of supported types.",
    "prune_test.py::PruneTest::testPruneScope_NeededForKerasModel":
        _CHOICE + "PruneLowMagnitude is registered with Keras, so a saved model loads "
        "without prune_scope().",
    "prune_integration_test.py::PruneIntegrationTest::testPruneCheckpoints_CheckpointsNotSparse":
        "asserts TFMOT's bug #206 (a checkpoint written between a weight update and the "
        "next re-masking is not sparse); kerasprune's masks are hard, so every checkpoint is "
        "sparse.",
}


def pytest_collection_modifyitems(config, items):
    # tf.test.TestCase's `test_session` is a context manager, not a test: not collected.
    items[:] = [item for item in items if not item.nodeid.endswith("::test_session")]
    for item in items:
        for test, reason in EXPECTED_FAILURES.items():
            if item.nodeid.endswith(test):
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
