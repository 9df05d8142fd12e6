"""TFMOT's internal module paths (`tensorflow_model_optimization.python.core...`).

Scripts that import TFMOT's modules by path (`from tensorflow_model_optimization.python.core.
sparsity.keras import prune, pruning_schedule`) run by changing `tensorflow_model_optimization`
to `kerasprune.tfmot`. Each module here re-exports the names of its TFMOT namesake from
`kerasprune.tfmot.sparsity.keras`, where they are implemented.
"""
