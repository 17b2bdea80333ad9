"""The use cases: one method each, its transaction in plain sight (`async with uow: … await
uow.commit()`; unit_of_work.py says what a commit writes). A step that costs credits is paid
for by the charger chosen at start-up (chargers/): read the account, charge inside the step's
transaction, complete after it."""

import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from ..domain.errors import DomainError, InvalidValue
from ..domain.formats import Dimensions, final_size, sample_size
from ..domain.models import (
    AssetInfo,
    CallbackOutcome,
    GenerationRequest,
    GenerationStatus,
    InputImage,
    JobType,
    Move,
)
from ..domain.models.asset_info import MAX_SEED
from ..domain.pricing import PriceList
from ..domain.repositories import ListQuery
from .assets import OutputCheck, ReportedImage
from .chargers import CreditCharger
from .dtos import (
    CreateGeneration,
    FinalResult,
    JobError,
    ListRequests,
    OrchestrationConfig,
    SamplesResult,
    SelectSample,
    VarySample,
)
from .errors import (
    ApplicationError,
    ContentPolicyViolation,
    InsufficientCredits,
    NotFound,
    TooManyActiveRequests,
)
from .job_status import JobStatusLinks
from .model_selector import ModelSelector
from .moderation import BlocklistModerator, PromptModerator
from .ports import (
    Clock,
    CreditAccount,
    Metrics,
    NoMetrics,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookUrlPolicy,
)
from .unit_of_work import locked, retry_on_concurrent_update

log = logging.getLogger(__name__)
STALLED = frozenset({GenerationStatus.VALIDATING_CREDITS, GenerationStatus.PUBLISHING_TO_QUEUE})


def new_id() -> str:
    return str(uuid.uuid4())


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


class OrchestrationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        charger: CreditCharger,
        clock: Clock,
        config: OrchestrationConfig,
        outputs: OutputCheck,
        id_factory: Callable[[], str] = new_id,
        *,
        seed_factory: Callable[[], int] = new_seed,
        moderator: PromptModerator | None = None,
        webhook_urls: WebhookUrlPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow = uow
        self._charger = charger
        self._clock = clock
        self._config = config
        self._outputs = outputs
        self._new_id = id_factory
        self._new_seed = seed_factory
        self._moderator = moderator or BlocklistModerator(())
        self._webhook_urls = webhook_urls
        self._metrics = metrics or NoMetrics()

    @property
    def prices(self) -> PriceList:
        return self._config.prices

    @property
    def models(self) -> ModelSelector:
        return self._config.model_selector

    @property
    def status_links(self) -> JobStatusLinks:
        assert self._config.status_links is not None, "the composition root gives them"
        return self._config.status_links

    # --- users -------------------------------------------------------------------------------

    async def initiate_generation(self, command: CreateGeneration) -> GenerationRequest:
        (request,) = await self._initiate([command], batch_id=None)
        return request

    async def initiate_batch(self, commands: Sequence[CreateGeneration]) -> list[GenerationRequest]:
        """A campaign: several requests of one user, all or nothing, charged by one debit for
        the sum (a refused batch creates and charges nothing)."""
        return await self._initiate(commands, batch_id=self._new_id())

    async def _initiate(
        self, commands: Sequence[CreateGeneration], batch_id: str | None
    ) -> list[GenerationRequest]:
        for command in commands:
            params = command.parameters
            if term := self._moderator.violation(params.prompt, params.style_guidance):
                raise ContentPolicyViolation(f"The prompt contains a blocked term ({term}).")
            if params.webhook_url and self._webhook_urls is not None:
                await self._webhook_urls.check(params.webhook_url)
        user_id = commands[0].user_id
        account = await self._charger.account(user_id)
        async with self._uow() as uow:
            requests = await self._new_requests(uow, commands, account, batch_id)
            await uow.requests.lock_user(user_id)  # a stable count of the user's active ones
            active = await uow.requests.count_active(user_id)
            if active + len(requests) > self._config.max_active_requests:
                raise TooManyActiveRequests(
                    f"{active} requests are still processing and this asks for "
                    f"{len(requests)} more; the limit is {self._config.max_active_requests}."
                )
            await self._charger.charge(uow, requests)
            for request in requests:
                await uow.requests.add(request)
            await uow.commit()
        for request in requests:
            self._metrics.request_created(request.parameters.format, account.tier)
        return await self._charger.complete(requests)

    async def _new_requests(
        self,
        uow: UnitOfWork,
        commands: Sequence[CreateGeneration],
        account: CreditAccount,
        batch_id: str | None,
    ) -> list[GenerationRequest]:
        price = self._config.prices.sample_round(account.tier)
        total = price * len(commands)
        requests = []
        for index, command in enumerate(commands):
            try:
                requests.append(await self._new_request(uow, command, account))
            except InvalidValue as exc:  # in a batch, name the item: requests.2.model
                if batch_id is None:
                    raise
                raise InvalidValue(f"requests.{index}.{exc.field}", exc.message) from None
        _ensure_affordable(account, total)
        now = self._clock.now()
        batch = (batch_id, total) if batch_id is not None else None
        for request in requests:
            size = sample_size(request.parameters.dimensions)
            model = self._model(account, request, JobType.SAMPLES, size)
            request.start_credit_check(self._new_id(), price, now, model, batch=batch)
        return requests

    async def _new_request(
        self, uow: UnitOfWork, command: CreateGeneration, account: CreditAccount
    ) -> GenerationRequest:
        params = command.parameters
        if params.model is not None:
            self._config.model_selector.ensure_usable(params.model, account.tier)
        images = await self._input_images(uow, command)
        seed = self._new_seed() if params.seed is None else params.seed
        return GenerationRequest.create(
            request_id=self._new_id(),
            user_id=command.user_id,
            project_id=command.project_id,
            parameters=replace(params, input_images=images, seed=seed),
            now=self._clock.now(),
            correlation_id=command.correlation_id,
        )

    async def _input_images(
        self, uow: UnitOfWork, command: CreateGeneration
    ) -> tuple[InputImage, ...]:
        """The caller's own images it names (uploads, samples, finals); another user's or an
        unknown id is refused, naming the field, exactly alike (nobody learns which ids exist)."""
        images: list[InputImage] = []
        for field, ids, purpose in (
            ("input_asset_ids", command.input_asset_ids, "input"),
            ("brand_elements.logo_asset_ids", command.logo_asset_ids, "logo"),
        ):
            if not ids:
                continue
            owned = {r.info.asset_id: r for r in await uow.assets.owned(command.user_id, ids)}
            unknown = [asset_id for asset_id in ids if asset_id not in owned]
            if unknown:
                raise InvalidValue(field, f"not an image of yours: {', '.join(unknown)}")
            images += [
                InputImage(i, owned[i].info.format, purpose, owned[i].key)
                for i in dict.fromkeys(ids)
            ]
        return tuple(images)

    async def get_generation_status(self, request_id: str, user_id: str) -> GenerationRequest:
        async with self._uow(read_only=True) as uow:
            return _owned(await uow.requests.get(request_id), user_id)

    async def list_generation_requests(self, query: ListRequests) -> list[GenerationRequest]:
        async with self._uow(read_only=True) as uow:
            return await uow.requests.list_for_user(
                ListQuery(query.user_id, query.limit, query.project_id, query.status, query.after)
            )

    async def select_sample_and_initiate_final(self, command: SelectSample) -> GenerationRequest:
        account = await self._charger.account(command.user_id)
        (request,) = await self._charger.complete([await self._select(command, account)])
        return request

    @retry_on_concurrent_update
    async def _select(self, command: SelectSample, account: CreditAccount) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, command.request_id, command.user_id)
            request.ensure_can(Move.SELECT, command.sample_id)
            price = self._config.prices.final(account.tier, command.resolution)
            _ensure_affordable(account, price)
            size = final_size(request.parameters.dimensions, command.resolution)
            model = self._model(account, request, JobType.FINAL, size)
            request.select_sample(
                command.sample_id,
                command.resolution,
                command.output_format,
                self._new_id(),
                price,
                self._clock.now(),
                model,
            )
            await self._charger.charge(uow, [request])
            await uow.commit()
        return request

    async def trigger_sample_regeneration(self, request_id: str, user_id: str) -> GenerationRequest:
        account = await self._charger.account(user_id)
        (request,) = await self._charger.complete(
            [await self._regenerate(request_id, user_id, account)]
        )
        return request

    @retry_on_concurrent_update
    async def _regenerate(
        self, request_id: str, user_id: str, account: CreditAccount
    ) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id, user_id)
            request.ensure_can(Move.REGENERATE)
            price = self._config.prices.sample_round(account.tier)
            _ensure_affordable(account, price)
            size = sample_size(request.parameters.dimensions)
            model = self._model(account, request, JobType.SAMPLES, size)
            request.regenerate(
                self._new_id(), price, self._clock.now(), model, seed=self._new_seed()
            )
            await self._charger.charge(uow, [request])
            await uow.commit()
        return request

    async def vary_sample(self, command: VarySample) -> GenerationRequest:
        """A round of samples made from one sample (Midjourney's V1-V4), charged as a round."""
        if command.prompt is not None and (term := self._moderator.violation(command.prompt)):
            raise ContentPolicyViolation(f"The prompt contains a blocked term ({term}).")
        account = await self._charger.account(command.user_id)
        (request,) = await self._charger.complete([await self._vary(command, account)])
        return request

    @retry_on_concurrent_update
    async def _vary(self, command: VarySample, account: CreditAccount) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, command.request_id, command.user_id)
            request.ensure_can(Move.VARY, command.sample_id, "sample_id")
            price = self._config.prices.sample_round(account.tier)
            _ensure_affordable(account, price)
            size = sample_size(request.parameters.dimensions)
            model = self._model(account, request, JobType.SAMPLES, size)
            request.vary(
                command.sample_id,
                command.strength,
                command.prompt,
                self._new_id(),
                price,
                self._clock.now(),
                model,
            )
            await self._charger.charge(uow, [request])
            await uow.commit()
        return request

    @retry_on_concurrent_update
    async def cancel(self, request_id: str, user_id: str) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id, user_id)
            request.cancel(self._clock.now())
            await uow.commit()
        return request

    async def job_is_current(self, request_id: str, job_id: str) -> bool:
        """Whether n8n should still render `job_id`: it is the request's job in flight."""
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        return request is not None and request.renders(job_id)

    @retry_on_concurrent_update
    async def delete(self, request_id: str, user_id: str) -> None:
        """A tombstone: texts erased, images deleted from storage through the outbox (an
        outage delays a deletion, never loses it). Deleting a deleted request changes nothing."""
        async with self._uow() as uow:
            request = await locked(uow, request_id, user_id)
            if request.delete(self._clock.now()):
                await uow.commit()

    # --- n8n callbacks -----------------------------------------------------------------------
    # A callback is applied once: a replayed webhook-id, or a job already settled, changes
    # nothing. Its receipt is noted in the transaction that applies it, so a replay finds it.

    async def process_n8n_sample_callback(self, result: SamplesResult) -> CallbackOutcome:
        assets = await self._verified_outputs(
            result.request_id, result.job_id, JobType.SAMPLES, result.samples
        )
        if isinstance(assets, CallbackOutcome):
            return assets
        return await self._apply_once(
            result.request_id,
            result.job_id,
            result.webhook_id,
            lambda r: r.apply_samples(
                result.job_id, assets, result.ai_model_used, self._clock.now()
            ),
        )

    async def process_n8n_final_asset_callback(self, result: FinalResult) -> CallbackOutcome:
        assets = await self._verified_outputs(
            result.request_id, result.job_id, JobType.FINAL, (result.asset,)
        )
        if isinstance(assets, CallbackOutcome):
            return assets
        return await self._apply_once(
            result.request_id,
            result.job_id,
            result.webhook_id,
            lambda r: r.apply_final(
                result.job_id, assets[0], result.ai_model_used, self._clock.now()
            ),
        )

    async def handle_n8n_error(self, error: JobError) -> CallbackOutcome:
        return await self._apply_once(
            error.request_id,
            error.job_id,
            error.webhook_id,
            lambda r: r.fail(
                error.job_id,
                error.error_code,
                error.error_message,
                error.retryable,
                self._clock.now(),
            ),
        )

    @retry_on_concurrent_update
    async def _apply_once(
        self,
        request_id: str,
        job_id: str,
        webhook_id: str | None,
        apply: Callable[[GenerationRequest], CallbackOutcome],
    ) -> CallbackOutcome:
        """The callback's move, in one transaction with its receipt; committed only when it
        applied (a replayed webhook-id, or a job already settled, changes nothing)."""
        async with self._uow() as uow:
            request = await locked(uow, request_id)
            if not await _first_receipt(uow, webhook_id):
                return CallbackOutcome.DUPLICATE
            outcome = apply(request)
            if outcome is CallbackOutcome.APPLIED:
                await uow.commit()
                self._round_trip(request, job_id)
        return outcome

    async def _verified_outputs(
        self, request_id: str, job_id: str, kind: JobType, reported: Sequence[ReportedImage]
    ) -> list[AssetInfo] | CallbackOutcome:
        """A job's images, checked in storage before they are applied (contract §6), or what
        the callback comes to without them: whether the job is current is decided first, so a
        stale or repeated callback touches no storage."""
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

    # --- sweeps (run by every replica; each change takes the row lock, so they never clash) ---

    async def recover_stalled_requests(self, grace: timedelta, limit: int = 100) -> int:
        """Complete steps a crash left between commit and debit: the same idempotency key
        means the debit happens at most once, whether or not it reached the credit service."""
        before = self._clock.now() - grace
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_stalled(STALLED, before, limit)
        recovered = 0
        for request_id in ids:
            async with self._uow(read_only=True) as uow:
                request = await uow.requests.get(request_id)
            if request is None or request.status not in STALLED:
                continue
            try:
                (request,) = await self._charger.complete([request])
                recovered += int(request.status not in STALLED)
            except (ApplicationError, DomainError) as exc:
                log.warning("recovery of request %s deferred: %s", request_id, exc)
        return recovered

    async def fail_overdue_requests(self, limit: int = 100) -> int:
        """Fail (and refund) every job in flight past its deadline."""
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_overdue(self._clock.now(), limit)
        failed = 0
        for request_id in ids:
            failed += await self._sweep(request_id, lambda r: r.time_out(self._clock.now()))
        return failed

    async def expire_old_assets(self, retention: timedelta, limit: int = 100) -> int:
        """ASSET_RETENTION_DAYS: the images of requests older than `retention` are deleted
        (through the outbox), each request keeping its texts and showing `assets_expired_at`."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_created_before(now - retention, limit)
        expired = 0
        for request_id in ids:
            expired += await self._sweep(request_id, lambda r: r.expire_assets(self._clock.now()))
        return expired

    async def notify_retention(
        self, retention: timedelta, notice: timedelta, limit: int = 100
    ) -> int:
        """ASSET_RETENTION_NOTICE_DAYS: tell each owner once, `notice` ahead of the deletion."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_created_before(
                now - retention + notice, limit, noticed=False
            )
        told = 0
        for request_id in ids:
            told += await self._sweep(
                request_id,
                lambda r: r.notice_retention(self._clock.now(), r.created_at + retention),
            )
        return told

    @retry_on_concurrent_update
    async def _sweep(self, request_id: str, move: Callable[[GenerationRequest], bool]) -> bool:
        """One request moved by a sweep, committed when the move says it changed it."""
        async with self._uow() as uow:
            request = await uow.requests.get_for_update(request_id)
            if request is None or not move(request):
                return False
            await uow.commit()
        return True

    def _model(
        self,
        account: CreditAccount,
        request: GenerationRequest,
        job_type: JobType,
        size: Dimensions,
    ) -> str:
        """The caller's model for the job types it renders; the selector picks the others."""
        selector = self._config.model_selector
        return selector.choose(account.tier, job_type, size, preferred=request.parameters.model)


def _ensure_affordable(account: CreditAccount, price: Decimal) -> None:
    if account.balance < price:
        raise InsufficientCredits(
            f"This step costs {price} credits and the balance is {account.balance}."
        )


def _owned(request: GenerationRequest | None, user_id: str) -> GenerationRequest:
    if request is None or request.user_id != user_id:
        raise NotFound("No generation request with this id.")
    return request


async def _first_receipt(uow: UnitOfWork, webhook_id: str | None) -> bool:
    """Note a callback's webhook-id; False when it was noted before (a replay)."""
    return webhook_id is None or await uow.receipts.add(webhook_id)
