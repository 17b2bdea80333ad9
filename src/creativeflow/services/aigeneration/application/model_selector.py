"""Which model renders a job (ENABLE_ADVANCED_MODEL_SELECTOR): first matching route wins."""

from dataclasses import dataclass

from ..domain.formats import Dimensions
from ..domain.models import JobType
from ..domain.pricing import SubscriptionTier


@dataclass(frozen=True)
class ModelRoute:
    model: str
    job_type: JobType | None = None
    tiers: frozenset[SubscriptionTier] | None = None
    min_long_edge: int = 0


@dataclass(frozen=True)
class ModelSelector:
    default_model: str
    routes: tuple[ModelRoute, ...] = ()
    enabled: bool = False

    def choose(self, tier: SubscriptionTier, job_type: JobType, size: Dimensions) -> str:
        if not self.enabled:
            return self.default_model
        for route in self.routes:
            if route.job_type not in (None, job_type):
                continue
            if route.tiers is not None and tier not in route.tiers:
                continue
            if size.long_edge >= route.min_long_edge:
                return route.model
        return self.default_model
