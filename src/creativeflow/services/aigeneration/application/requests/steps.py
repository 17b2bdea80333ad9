"""What every move that costs credits shares: new ids and seeds, its price held against the
balance read before the transaction, and the model that renders it."""

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ...domain.formats import Dimensions, Resolution, final_size, sample_size
from ...domain.models import GenerationRequest, JobType
from ...domain.models.asset_info import MAX_SEED
from ..dtos import OrchestrationConfig
from ..errors import InsufficientCredits
from ..ports import Clock, CreditAccount


def new_id() -> str:
    return str(uuid.uuid4())


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


@dataclass(frozen=True)
class Ids:
    """Where new ids and seeds come from (tests give fixed ones)."""

    new_id: Callable[[], str] = field(default=new_id)
    new_seed: Callable[[], int] = field(default=new_seed)


@dataclass(frozen=True)
class Step:
    """A step about to be opened on a request: its job id, price, model and time."""

    job_id: str
    price: Decimal
    model: str
    now: datetime


class StepPlanner:
    def __init__(self, config: OrchestrationConfig, clock: Clock, ids: Ids) -> None:
        self._config = config
        self._clock = clock
        self._ids = ids

    def samples(self, account: CreditAccount, request: GenerationRequest) -> Step:
        """A round of samples: priced for the tier, within the balance, its model chosen."""
        price = self._config.prices.sample_round(account.tier)
        size = sample_size(request.parameters.dimensions)
        return self._step(account, request, price, JobType.SAMPLES, size)

    def final(
        self, account: CreditAccount, request: GenerationRequest, resolution: Resolution
    ) -> Step:
        price = self._config.prices.final(account.tier, resolution)
        size = final_size(request.parameters.dimensions, resolution)
        return self._step(account, request, price, JobType.FINAL, size)

    def _step(
        self,
        account: CreditAccount,
        request: GenerationRequest,
        price: Decimal,
        job_type: JobType,
        size: Dimensions,
    ) -> Step:
        ensure_affordable(account, price)
        return Step(
            self._ids.new_id(),
            price,
            self.model(account, request, job_type, size),
            self._clock.now(),
        )

    def model(
        self,
        account: CreditAccount,
        request: GenerationRequest,
        job_type: JobType,
        size: Dimensions,
    ) -> str:
        """The caller's model for the job types it renders; the selector picks the others."""
        selector = self._config.model_selector
        return selector.choose(account.tier, job_type, size, preferred=request.parameters.model)


def ensure_affordable(account: CreditAccount, price: Decimal) -> None:
    if account.balance < price:
        raise InsufficientCredits(
            f"This step costs {price} credits and the balance is {account.balance}."
        )
