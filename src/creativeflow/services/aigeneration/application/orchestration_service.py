"""The use cases: one method each. A change to a request goes through RequestTransactions (one
transaction, its side effects staged in the outbox); a step that costs credits goes through
the CreditSaga (charged, then dispatched)."""

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
from .assets import AssetLinks, OutputCheck, ReportedImage
from .credit_saga import CreditSaga
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
    CreditGateway,
    Metrics,
    NoMetrics,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookUrlPolicy,
)
from .transactions import RequestTransactions

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
        credits: CreditGateway,
        clock: Clock,
        config: OrchestrationConfig,
        links: AssetLinks,
        outputs: OutputCheck,
        id_factory: Callable[[], str] = new_id,
        *,
        seed_factory: Callable[[], int] = new_seed,
        moderator: PromptModerator | None = None,
        webhook_urls: WebhookUrlPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow = uow
        self._credits = credits
        self._clock = clock
        self._config = config
        self._outputs = outputs
        self._new_id = id_factory
        self._new_seed = seed_factory
        self._moderator = moderator or BlocklistModerator(())
        self._webhook_urls = webhook_urls
        self._metrics = metrics or NoMetrics()
        self._transactions = RequestTransactions(uow, config, self._metrics, links, clock)
        self._saga = CreditSaga(self._transactions, credits, clock, config)

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
        async with self._uow() as uow:
            local = uow.ledger is not None
            if uow.ledger is not None:  # credits in this database: one transaction does it all
                account = await uow.ledger.get_account(user_id)
                requests = await self._new_requests(uow, commands, account, batch_id)
                await self._store_new(uow, requests)
        if not local:  # the saga: price, commit the step, then charge and dispatch
            account = await self._credits.get_account(user_id)
            async with self._uow() as uow:
                requests = await self._new_requests(uow, commands, account, batch_id)
                await self._store_new(uow, requests)
        for request in requests:
            self._metrics.request_created(request.parameters.format, account.tier)
            self._metrics.status_changed(None, request.status)
        return await self._saga.finish_all(requests)

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

    async def _store_new(self, uow: UnitOfWork, requests: Sequence[GenerationRequest]) -> None:
        """The new requests, in one transaction: within the user's active limit (a batch
        counts as that many), charged (here when the ledger is local), with their outbox rows."""
        await uow.requests.lock_user(requests[0].user_id)
        active = await uow.requests.count_active(requests[0].user_id)
        if active + len(requests) > self._config.max_active_requests:
            raise TooManyActiveRequests(
                f"{active} requests are still processing and this asks for {len(requests)} "
                f"more; the limit is {self._config.max_active_requests}."
            )
        await self._saga.charge_all_within(uow, requests)
        for request in requests:
            await uow.requests.add(request)
            self._transactions.stage(uow, request)
        await uow.commit()

    async def get_generation_status(self, request_id: str, user_id: str) -> GenerationRequest:
        async with self._uow(read_only=True) as uow:
            return _owned(await uow.requests.get(request_id), user_id)

    async def list_generation_requests(self, query: ListRequests) -> list[GenerationRequest]:
        async with self._uow(read_only=True) as uow:
            return await uow.requests.list_for_user(
                ListQuery(query.user_id, query.limit, query.project_id, query.status, query.after)
            )

    async def select_sample_and_initiate_final(self, command: SelectSample) -> GenerationRequest:
        request = await self.get_generation_status(command.request_id, command.user_id)
        request.ensure_can(Move.SELECT, command.sample_id)
        account = await self._credits.get_account(command.user_id)
        price = self._config.prices.final(account.tier, command.resolution)
        _ensure_affordable(account, price)
        size = final_size(request.parameters.dimensions, command.resolution)
        job_id, model = self._new_id(), self._model(account, request, JobType.FINAL, size)

        def select(r: GenerationRequest) -> None:
            r.select_sample(
                command.sample_id,
                command.resolution,
                command.output_format,
                job_id,
                price,
                self._clock.now(),
                model,
            )

        request = await self._transactions.change(
            command.request_id, select, command.user_id, within=self._saga.charge_within
        )
        return await self._saga.finish(request)

    async def trigger_sample_regeneration(self, request_id: str, user_id: str) -> GenerationRequest:
        request = await self.get_generation_status(request_id, user_id)
        request.ensure_can(Move.REGENERATE)
        account = await self._credits.get_account(user_id)
        price = self._config.prices.sample_round(account.tier)
        _ensure_affordable(account, price)
        size = sample_size(request.parameters.dimensions)
        job_id, model = self._new_id(), self._model(account, request, JobType.SAMPLES, size)
        seed = self._new_seed()
        request = await self._transactions.change(
            request_id,
            lambda r: r.regenerate(job_id, price, self._clock.now(), model, seed=seed),
            user_id,
            within=self._saga.charge_within,
        )
        return await self._saga.finish(request)

    async def vary_sample(self, command: VarySample) -> GenerationRequest:
        """A round of samples made from one sample (Midjourney's V1-V4), charged as a round."""
        if command.prompt is not None and (term := self._moderator.violation(command.prompt)):
            raise ContentPolicyViolation(f"The prompt contains a blocked term ({term}).")
        request = await self.get_generation_status(command.request_id, command.user_id)
        request.ensure_can(Move.VARY, command.sample_id, "sample_id")
        account = await self._credits.get_account(command.user_id)
        price = self._config.prices.sample_round(account.tier)
        _ensure_affordable(account, price)
        size = sample_size(request.parameters.dimensions)
        job_id, model = self._new_id(), self._model(account, request, JobType.SAMPLES, size)

        def vary(r: GenerationRequest) -> None:
            r.vary(
                command.sample_id,
                command.strength,
                command.prompt,
                job_id,
                price,
                self._clock.now(),
                model,
            )

        request = await self._transactions.change(
            command.request_id, vary, command.user_id, within=self._saga.charge_within
        )
        return await self._saga.finish(request)

    async def cancel(self, request_id: str, user_id: str) -> GenerationRequest:
        return await self._transactions.change(
            request_id, lambda r: r.cancel(self._clock.now()), user_id
        )

    async def job_is_current(self, request_id: str, job_id: str) -> bool:
        """Whether n8n should still render `job_id`: it is the request's job in flight."""
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        return request is not None and request.renders(job_id)

    async def delete(self, request_id: str, user_id: str) -> None:
        """A tombstone: texts erased, images deleted from storage through the outbox (an
        outage delays a deletion, never loses it). Deleting a deleted request changes nothing."""
        await self._transactions.change_if(
            request_id, lambda r: r.delete(self._clock.now()), user_id
        )

    # --- n8n callbacks -----------------------------------------------------------------------

    async def process_n8n_sample_callback(self, result: SamplesResult) -> CallbackOutcome:
        return await self._apply_result(
            result.request_id,
            result.job_id,
            JobType.SAMPLES,
            result.samples,
            result.webhook_id,
            lambda r, assets: r.apply_samples(
                result.job_id, assets, result.ai_model_used, self._clock.now()
            ),
        )

    async def process_n8n_final_asset_callback(self, result: FinalResult) -> CallbackOutcome:
        return await self._apply_result(
            result.request_id,
            result.job_id,
            JobType.FINAL,
            (result.asset,),
            result.webhook_id,
            lambda r, assets: r.apply_final(
                result.job_id, assets[0], result.ai_model_used, self._clock.now()
            ),
        )

    async def _apply_result(
        self,
        request_id: str,
        job_id: str,
        kind: JobType,
        reported: Sequence[ReportedImage],
        webhook_id: str | None,
        apply: Callable[[GenerationRequest, list[AssetInfo]], CallbackOutcome],
    ) -> CallbackOutcome:
        """A job's images, once: whether the job is current is decided first (a stale or
        repeated callback touches no storage); then every image is checked in storage, and only
        then applied, in one transaction with the assets' rows (contract §6)."""
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        if request is None:
            raise NotFound("No generation request with this id.")
        # a replay of an applied result finds its job succeeded (the receipt is asked in the
        # transaction that applies, where it decides)
        outcome = request.result_outcome(job_id, kind)
        if outcome is not CallbackOutcome.APPLIED:
            return outcome
        job = request.find_job(job_id)
        assert job is not None, "result_outcome knows the job"
        assets = await self._outputs.verified(request, job, reported)
        return await self._transactions.apply(
            request_id, job_id, webhook_id, lambda r: apply(r, assets)
        )

    async def handle_n8n_error(self, error: JobError) -> CallbackOutcome:
        return await self._transactions.apply(
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

    # --- sweeps (run by every replica; each change takes the row lock, so they never clash) ---

    async def recover_stalled_requests(self, grace: timedelta, limit: int = 100) -> int:
        """Re-drive steps a crash left between commit and debit: the same idempotency key means
        the debit happens at most once, whether or not it reached the credit service before."""
        before = self._clock.now() - grace
        async with self._uow() as uow:
            ids = await uow.requests.ids_stalled(STALLED, before, limit)
        recovered = 0
        for request_id in ids:
            async with self._uow() as uow:
                request = await uow.requests.get(request_id)
            if request is None or request.status not in STALLED:
                continue
            try:
                await self._saga.charge_and_dispatch(request)
                recovered += 1
            except (ApplicationError, DomainError) as exc:
                log.warning("recovery of request %s deferred: %s", request_id, exc)
        return recovered

    async def fail_overdue_requests(self, limit: int = 100) -> int:
        """Fail (and refund) every job in flight past its deadline."""
        async with self._uow() as uow:
            ids = await uow.requests.ids_overdue(self._clock.now(), limit)
        failed = 0
        for request_id in ids:
            timed_out = await self._transactions.change_if(
                request_id, lambda r: r.time_out(self._clock.now())
            )
            failed += int(timed_out)
        return failed

    async def expire_old_assets(self, retention: timedelta, limit: int = 100) -> int:
        """ASSET_RETENTION_DAYS: the images of requests older than `retention` are deleted
        (through the outbox), each request keeping its texts and showing `assets_expired_at`."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            ids = await uow.requests.ids_created_before(now - retention, limit)
        expired = 0
        for request_id in ids:
            moved = await self._transactions.change_if(
                request_id, lambda r: r.expire_assets(self._clock.now())
            )
            expired += int(moved)
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
            moved = await self._transactions.change_if(
                request_id,
                lambda r: r.notice_retention(self._clock.now(), r.created_at + retention),
            )
            told += int(moved)
        return told

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
