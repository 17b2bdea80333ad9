"""Which model renders a job (ENABLE_ADVANCED_MODEL_SELECTOR): first matching route wins; and
which sizes each model accepts, so a job asks it only for one of them (PROVIDERS.md)."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..domain.formats import Dimensions, parse_size
from ..domain.models import JobType
from ..domain.pricing import SubscriptionTier

# What OpenAI's image models accept (PROVIDERS.md); a route's own `sizes` win over these.
KNOWN_MODEL_SIZES: Mapping[str, tuple[Dimensions, ...]] = {
    "dall-e-2": tuple(parse_size(s) for s in ("256x256", "512x512", "1024x1024")),
    "dall-e-3": tuple(parse_size(s) for s in ("1024x1024", "1792x1024", "1024x1792")),
    "gpt-image-1": tuple(parse_size(s) for s in ("1024x1024", "1536x1024", "1024x1536")),
}


@dataclass(frozen=True)
class ModelRoute:
    model: str
    job_type: JobType | None = None
    tiers: frozenset[SubscriptionTier] | None = None
    min_long_edge: int = 0
    sizes: tuple[Dimensions, ...] = ()  # what the model accepts; empty: any size


@dataclass(frozen=True)
class ModelSelector:
    default_model: str
    routes: tuple[ModelRoute, ...] = ()
    enabled: bool = False
    default_sizes: tuple[Dimensions, ...] = ()
    known_sizes: Mapping[str, tuple[Dimensions, ...]] = field(
        default_factory=lambda: dict(KNOWN_MODEL_SIZES)
    )

    def sizes(self, model: str | None) -> tuple[Dimensions, ...]:
        """The sizes `model` accepts (empty: any)."""
        if model is None:
            return ()
        for route in self.routes:
            if route.model == model and route.sizes:
                return route.sizes
        if model == self.default_model and self.default_sizes:
            return self.default_sizes
        return self.known_sizes.get(model, ())

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
