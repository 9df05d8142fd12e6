"""retrain: the learning-rate schedules for retraining after pruning (seed 003).

Owns `RetrainSchedule` and FT, LRW, SLR, CLR, LLR, ALLR, all Keras
`LearningRateSchedule`s (pure functions of the step, serializable), and ALLR's factor.
May import: keras, numpy and `kerasprune.core.validation`; nothing else of kerasprune.
"""
