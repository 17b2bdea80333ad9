from .asset_info import AssetInfo
from .generation_parameters import BrandElements, GenerationParameters, InputImage
from .generation_request import GenerationRequest
from .generation_status import GenerationStatus
from .job import SAMPLES_PER_ROUND, Charge, Job, JobState, JobType, Strength
from .request_record import CallbackOutcome
from .status_table import MOVES, Move

__all__ = [
    "MOVES",
    "SAMPLES_PER_ROUND",
    "AssetInfo",
    "BrandElements",
    "CallbackOutcome",
    "Charge",
    "GenerationParameters",
    "GenerationRequest",
    "GenerationStatus",
    "InputImage",
    "Job",
    "JobState",
    "JobType",
    "Move",
    "Strength",
]
