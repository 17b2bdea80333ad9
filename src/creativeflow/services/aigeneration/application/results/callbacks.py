"""n8n's callbacks (contract §3, §6). Whether the job is current is decided first, so a stale
or repeated callback touches no storage; then each image it names is checked in storage
(assets.OutputCheck); then the result is applied in one transaction with its receipt. A
replayed webhook-id, or a job already settled, changes nothing."""

from collections.abc import Sequence

from ...domain.models import AssetInfo, CallbackOutcome, GenerationRequest, JobType
from ..assets import OutputCheck, ReportedImage
from ..dtos import FinalResult, JobError, SamplesResult
from ..errors import NotFound
from ..ports import Clock, Metrics, UnitOfWork, UnitOfWorkFactory
from ..unit_of_work import locked, retry_on_concurrent_update


class ApplyResults:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, outputs: OutputCheck, metrics: Metrics
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._outputs = outputs
        self._metrics = metrics

    async def process_n8n_sample_callback(self, result: SamplesResult) -> CallbackOutcome:
        checked = await self._checked(
            result.request_id, result.job_id, JobType.SAMPLES, result.samples
        )
        if isinstance(checked, CallbackOutcome):
            return checked
        return await self._apply_samples(result, checked)

    async def process_n8n_final_asset_callback(self, result: FinalResult) -> CallbackOutcome:
        checked = await self._checked(
            result.request_id, result.job_id, JobType.FINAL, (result.asset,)
        )
        if isinstance(checked, CallbackOutcome):
            return checked
        return await self._apply_final(result, checked[0])

    @retry_on_concurrent_update
    async def handle_n8n_error(self, error: JobError) -> CallbackOutcome:
        async with self._uow() as uow:
            request = await locked(uow, error.request_id)
            if not await _first_receipt(uow, error.webhook_id):
                return CallbackOutcome.DUPLICATE
            outcome = request.fail(
                error.job_id,
                error.error_code,
                error.error_message,
                error.retryable,
                self._clock.now(),
            )
            if outcome is CallbackOutcome.APPLIED:
                await uow.commit()
        return outcome

    @retry_on_concurrent_update
    async def _apply_samples(
        self, result: SamplesResult, samples: list[AssetInfo]
    ) -> CallbackOutcome:
        async with self._uow() as uow:
            request = await locked(uow, result.request_id)
            if not await _first_receipt(uow, result.webhook_id):
                return CallbackOutcome.DUPLICATE
            outcome = request.apply_samples(
                result.job_id, samples, result.ai_model_used, self._clock.now()
            )
            if outcome is CallbackOutcome.APPLIED:
                await uow.commit()
                self._round_trip(request, result.job_id)
        return outcome

    @retry_on_concurrent_update
    async def _apply_final(self, result: FinalResult, final: AssetInfo) -> CallbackOutcome:
        async with self._uow() as uow:
            request = await locked(uow, result.request_id)
            if not await _first_receipt(uow, result.webhook_id):
                return CallbackOutcome.DUPLICATE
            outcome = request.apply_final(
                result.job_id, final, result.ai_model_used, self._clock.now()
            )
            if outcome is CallbackOutcome.APPLIED:
                await uow.commit()
                self._round_trip(request, result.job_id)
        return outcome

    async def _checked(
        self, request_id: str, job_id: str, kind: JobType, reported: Sequence[ReportedImage]
    ) -> list[AssetInfo] | CallbackOutcome:
        """A job's images, checked in storage before they are applied (contract §6), or what
        the callback comes to without them (a stale or repeated one)."""
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        if request is None:
            raise NotFound("No generation request with this id.")
        outcome = request.result_outcome(job_id, kind)
        if outcome is not CallbackOutcome.APPLIED:
            return outcome
        job = request.find_job(job_id)
        assert job is not None, "result_outcome knows the job"
        return await self._outputs.verified(request, job, reported)

    def _round_trip(self, request: GenerationRequest, job_id: str) -> None:
        job = request.find_job(job_id)
        if job is not None and job.duration_ms is not None:
            self._metrics.job_round_trip(job.job_type, job.duration_ms / 1000)


async def _first_receipt(uow: UnitOfWork, webhook_id: str | None) -> bool:
    """Note a callback's webhook-id; False when it was noted before (a replay)."""
    return webhook_id is None or await uow.receipts.add(webhook_id)
