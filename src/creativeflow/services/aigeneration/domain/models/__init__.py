from .asset_info import AssetInfo
from .generation_parameters import BrandElements, GenerationParameters
from .generation_request import CallbackOutcome, GenerationRequest
from .generation_status import GenerationStatus
from .job import Charge, Job, JobState, JobType

__all__ = [
    "AssetInfo",
    "BrandElements",
    "CallbackOutcome",
    "Charge",
    "GenerationParameters",
    "GenerationRequest",
    "GenerationStatus",
    "Job",
    "JobState",
    "JobType",
]
