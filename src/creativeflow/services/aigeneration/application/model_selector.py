"""The model table: which models a caller may choose (`GET /models`), which model renders a job
(the caller's choice for the job types it lists, else the first matching route when
ENABLE_ADVANCED_MODEL_SELECTOR is on, else the default), and which sizes each model accepts,
so a job asks it only for one of them (PROVIDERS.md)."""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..domain.errors import InvalidValue
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
    name: str | None = None  # for people; the id when not given


@dataclass(frozen=True)
class ModelInfo:
    """One row of `GET /models`: empty `tiers` means every tier, empty `sizes` any size."""

    id: str
    name: str
    job_types: tuple[JobType, ...]
    tiers: tuple[SubscriptionTier, ...]
    sizes: tuple[Dimensions, ...]

    def allows(self, tier: SubscriptionTier) -> bool:
        return not self.tiers or tier in self.tiers


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

    def catalog(self) -> tuple[ModelInfo, ...]:
        return self._catalog

    def find(self, model: str) -> ModelInfo | None:
        return next((row for row in self._catalog if row.id == model), None)

    @functools.cached_property
    def _catalog(self) -> tuple[ModelInfo, ...]:
        """The models a caller may choose: the default (every job type and tier), then each
        model of the routes, its job types and tiers gathered over its routes."""
        rows: dict[str, ModelInfo] = {
            self.default_model: ModelInfo(
                self.default_model,
                self.default_model,
                tuple(JobType),
                (),
                self.sizes(self.default_model),
            )
        }
        for model in dict.fromkeys(route.model for route in self.routes):
            if model in rows:
                continue
            routes = [route for route in self.routes if route.model == model]
            job_types = {t for r in routes for t in ((r.job_type,) if r.job_type else JobType)}
            every_tier = any(route.tiers is None for route in routes)
            tiers = set() if every_tier else {t for r in routes for t in r.tiers or ()}
            rows[model] = ModelInfo(
                model,
                next((r.name for r in routes if r.name), model),
                tuple(t for t in JobType if t in job_types),
                tuple(t for t in SubscriptionTier if t in tiers),
                self.sizes(model),
            )
        return tuple(rows.values())

    def ensure_usable(self, model: str, tier: SubscriptionTier) -> None:
        """A caller's choice: a model of the table that the caller's tier may use."""
        info = self.find(model)
        if info is None:
            raise InvalidValue("model", "is not a model of GET /models")
        if not info.allows(tier):
            raise InvalidValue("model", f"is not available on the {tier} tier")

    def choose(
        self,
        tier: SubscriptionTier,
        job_type: JobType,
        size: Dimensions,
        preferred: str | None = None,
    ) -> str:
        if preferred is not None:
            info = self.find(preferred)
            if info is not None and job_type in info.job_types and info.allows(tier):
                return preferred
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
