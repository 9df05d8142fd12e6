"""`tensorflow_model_optimization.python.core.sparsity`: see `kerasprune.tfmot.python`."""
