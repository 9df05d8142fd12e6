"""`tensorflow_model_optimization.python.core`: see `kerasprune.tfmot.python`."""
