"""retrain: the learning-rate schedules for retraining after pruning (seed 003).

Owns `RetrainSchedule` and the six schedules, all Keras `LearningRateSchedule`s (pure
functions of the step, serializable): `FineTuning`, `LearningRateRewinding`,
`ScaledLearningRateRestarting`, `CyclicLearningRateRestarting`,
`LinearLearningRateRestarting`, `AdaptiveLinearLearningRateRestarting`, also named by
their short names in the literature (`FT`, `LRW`, `SLR`, `CLR`, `LLR`, `ALLR`), and
ALLR's factor `allr_d1`.
May import: keras, numpy, `kerasprune.core.validation`, `kerasprune.core.caller`.
"""

from kerasprune.retrain.retrain_schedule import RetrainSchedule
from kerasprune.retrain.schedules import (
    ALLR,
    CLR,
    FT,
    LLR,
    LRW,
    SLR,
    AdaptiveLinearLearningRateRestarting,
    CyclicLearningRateRestarting,
    FineTuning,
    LearningRateRewinding,
    LinearLearningRateRestarting,
    ScaledLearningRateRestarting,
    allr_d1,
)

__all__ = [
    "ALLR",
    "AdaptiveLinearLearningRateRestarting",
    "CLR",
    "CyclicLearningRateRestarting",
    "FT",
    "FineTuning",
    "LLR",
    "LRW",
    "LearningRateRewinding",
    "LinearLearningRateRestarting",
    "RetrainSchedule",
    "SLR",
    "ScaledLearningRateRestarting",
    "allr_d1",
]
