"""TFMOT's pruning modules by their TFMOT paths (`...python.core.sparsity.keras.prune`, ...)."""
