from .patch_invariance import PatchInvarianceLoss, mean_cosine_to_patch_mean  # noqa: F401
from .self_consistency import SelfConsistencyLoss  # noqa: F401
from .total_coding_rate import TotalCodingRateLoss, total_coding_rate  # noqa: F401
