"""The use cases wired over in-memory fakes, and n8n's side of a job as the fakes see it:
images uploaded to the job's upload targets, then named in the callback."""

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from PIL import Image

from creativeflow.services.aigeneration.application.assets import (
    AssetLinks,
    OutputCheck,
    ReportedImage,
    staging_key,
)
from creativeflow.services.aigeneration.application.chargers import CreditCharger
from creativeflow.services.aigeneration.application.chargers.in_transaction import (
    InTransactionCharger,
)
from creativeflow.services.aigeneration.application.chargers.saga import SagaCharger
from creativeflow.services.aigeneration.application.dtos import OrchestrationConfig
from creativeflow.services.aigeneration.application.orchestration_service import (
    OrchestrationService,
)
from creativeflow.services.aigeneration.application.ports import CreditGateway
from creativeflow.services.aigeneration.application.unit_of_work import CommitStaging
from creativeflow.services.aigeneration.domain.models import GenerationRequest, Job

from .fakes import FakeAssetStorage, FakeClock, FakeDatabase, FakeRemoteImages, FakeUnitOfWork

MAX_ASSET_BYTES = 64 * 1024 * 1024


def service_over_fakes(
    db: FakeDatabase,
    credits: CreditGateway,
    clock: FakeClock,
    config: OrchestrationConfig,
    ids: Callable[[], str],
    storage: FakeAssetStorage,
    local_credits: Any = None,
    **options: Any,
) -> OrchestrationService:
    """`local_credits`: a FakeCreditGateway charged inside the unit of work (the local ledger,
    with the in-transaction charger); without it, `credits` is charged by the saga."""
    links = AssetLinks(storage, clock, timedelta(seconds=900))
    staging = CommitStaging(config, links, clock)

    def uow(read_only: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(db, staging, local_credits=local_credits)

    charger: CreditCharger = (
        InTransactionCharger(uow, clock, config)
        if local_credits is not None
        else SagaCharger(uow, credits, clock, config)
    )
    return OrchestrationService(
        uow,
        charger,
        clock,
        config,
        OutputCheck(storage, FakeRemoteImages(), MAX_ASSET_BYTES),
        ids,
        **options,
    )


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def upload_outputs(
    storage: FakeAssetStorage,
    request: GenerationRequest,
    job: Job,
    *,
    count: int | None = None,
    size: tuple[int, int] | None = None,
) -> tuple[ReportedImage, ...]:
    """What the workflow does before it calls back: an image of the job's exact size (or
    `size`) at each upload target; the reported images name them."""
    expected = request.output_size(job)
    width, height = size or (expected.width, expected.height)
    ids = job.output_ids[: count or len(job.output_ids)]
    for index, asset_id in enumerate(ids):
        key = staging_key(request, asset_id, job.output_format)  # where its upload target writes
        storage.objects[key] = png(width, height, (index * 40 % 256, 90, 160))
    return tuple(ReportedImage(asset_id=asset_id, seed=1000 + i) for i, asset_id in enumerate(ids))
