from .self_consistency import SelfConsistencyLoss  # noqa: F401
