"""The ported scripts run when imported: only `test_scripts.py` runs them (not the doctest
collection)."""

collect_ignore = [
    "imdb_lstm.py",
    "mnist_cnn.py",
    "mnist_e2e_sparsity2x4.py",
    "mnist_mha.py",
    "pruning_for_on_device_inference.py",
    "pruning_with_sparsity_2_by_4.py",
]
