"""`tensorflow_model_optimization.python.core.keras`: the `compat` module."""
