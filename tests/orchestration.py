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
from creativeflow.services.aigeneration.application.moderation import BlocklistModerator
from creativeflow.services.aigeneration.application.ports import (
    Clock,
    CreditGateway,
    NoMetrics,
    UnitOfWorkFactory,
)
from creativeflow.services.aigeneration.application.requests.creative_moves import CreativeMoves
from creativeflow.services.aigeneration.application.requests.initiate import (
    InitiateGeneration,
    PreChecks,
)
from creativeflow.services.aigeneration.application.requests.lifecycle import RequestLifecycle
from creativeflow.services.aigeneration.application.requests.reads import RequestReads
from creativeflow.services.aigeneration.application.requests.steps import Ids, StepPlanner
from creativeflow.services.aigeneration.application.requests.steps import new_id as default_new_id
from creativeflow.services.aigeneration.application.results.callbacks import ApplyResults
from creativeflow.services.aigeneration.application.unit_of_work import CommitStaging
from creativeflow.services.aigeneration.application.upkeep.sweeps import Sweeps
from creativeflow.services.aigeneration.domain.models import GenerationRequest, Job

from .fakes import FakeAssetStorage, FakeClock, FakeDatabase, FakeRemoteImages, FakeUnitOfWork

MAX_ASSET_BYTES = 64 * 1024 * 1024


class UseCases:
    """Every use case, wired over the same unit of work and charger, under the seed's method
    names (tests drive a request through several rooms: the user's, n8n's, the sweeps')."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        charger: CreditCharger,
        clock: Clock,
        config: OrchestrationConfig,
        outputs: OutputCheck,
        new_id: Callable[[], str] = default_new_id,
    ) -> None:
        ids = Ids(new_id=new_id)
        moderator = BlocklistModerator(())
        self.initiate = InitiateGeneration(
            uow, charger, clock, config, ids, PreChecks(moderator, None), NoMetrics()
        )
        self.moves = CreativeMoves(uow, charger, StepPlanner(config, clock, ids), ids, moderator)
        self.lifecycle = RequestLifecycle(uow, clock)
        self.reads = RequestReads(uow)
        self.results = ApplyResults(uow, clock, outputs, NoMetrics())
        self.sweeps = Sweeps(uow, charger, clock)
        self.initiate_generation = self.initiate.initiate_generation
        self.initiate_batch = self.initiate.initiate_batch
        self.select_sample_and_initiate_final = self.moves.select_sample_and_initiate_final
        self.trigger_sample_regeneration = self.moves.trigger_sample_regeneration
        self.vary_sample = self.moves.vary_sample
        self.cancel = self.lifecycle.cancel
        self.delete = self.lifecycle.delete
        self.get_generation_status = self.reads.get_generation_status
        self.list_generation_requests = self.reads.list_generation_requests
        self.process_n8n_sample_callback = self.results.process_n8n_sample_callback
        self.process_n8n_final_asset_callback = self.results.process_n8n_final_asset_callback
        self.handle_n8n_error = self.results.handle_n8n_error
        self.recover_stalled_requests = self.sweeps.recover_stalled_requests
        self.fail_overdue_requests = self.sweeps.fail_overdue_requests
        self.expire_old_assets = self.sweeps.expire_old_assets
        self.notify_retention = self.sweeps.notify_retention


def service_over_fakes(
    db: FakeDatabase,
    credits: CreditGateway,
    clock: FakeClock,
    config: OrchestrationConfig,
    ids: Callable[[], str],
    storage: FakeAssetStorage,
    local_credits: Any = None,
) -> UseCases:
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
    outputs = OutputCheck(storage, FakeRemoteImages(), MAX_ASSET_BYTES)
    return UseCases(uow, charger, clock, config, outputs, ids)


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
