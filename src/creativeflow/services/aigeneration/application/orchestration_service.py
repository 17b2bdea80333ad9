"""The use cases: one method each. A change to a request goes through RequestTransactions (one
transaction, its side effects staged in the outbox); a step that costs credits goes through
the CreditSaga (charged, then dispatched)."""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from ..domain.errors import DomainError
from ..domain.formats import Dimensions, final_size, sample_size
from ..domain.models import (
    CallbackOutcome,
    GenerationRequest,
    GenerationStatus,
    JobType,
)
from ..domain.pricing import PriceList
from ..domain.repositories import ListQuery
from .credit_saga import CreditSaga
from .dtos import (
    CreateGeneration,
    FinalResult,
    JobError,
    ListRequests,
    OrchestrationConfig,
    SamplesResult,
    SelectSample,
)
from .errors import (
    ApplicationError,
    ContentPolicyViolation,
    InsufficientCredits,
    NotFound,
    TooManyActiveRequests,
)
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


class OrchestrationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        credits: CreditGateway,
        clock: Clock,
        config: OrchestrationConfig,
        id_factory: Callable[[], str] = new_id,
        *,
        moderator: PromptModerator | None = None,
        webhook_urls: WebhookUrlPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._uow = uow
        self._credits = credits
        self._clock = clock
        self._config = config
        self._new_id = id_factory
        self._moderator = moderator or BlocklistModerator(())
        self._webhook_urls = webhook_urls
        self._metrics = metrics or NoMetrics()
        self._transactions = RequestTransactions(uow, config, self._metrics)
        self._saga = CreditSaga(self._transactions, credits, clock, config)

    @property
    def prices(self) -> PriceList:
        return self._config.prices

    # --- users -------------------------------------------------------------------------------

    async def initiate_generation(self, command: CreateGeneration) -> GenerationRequest:
        params = command.parameters
        if term := self._moderator.violation(params.prompt, params.style_guidance):
            raise ContentPolicyViolation(f"The prompt contains a blocked term ({term}).")
        if params.webhook_url and self._webhook_urls is not None:
            await self._webhook_urls.check(params.webhook_url)
        async with self._uow() as uow:
            local = uow.ledger is not None
            if uow.ledger is not None:  # credits in this database: one transaction does it all
                account = await uow.ledger.get_account(command.user_id)
                request = self._new_request(command, account)
                await self._store_new(uow, request)
        if not local:  # the saga: price, commit the step, then charge and dispatch
            account = await self._credits.get_account(command.user_id)
            request = self._new_request(command, account)
            async with self._uow() as uow:
                await self._store_new(uow, request)
        self._metrics.request_created(params.format, account.tier)
        self._metrics.status_changed(None, request.status)
        return await self._saga.finish(request)

    def _new_request(self, command: CreateGeneration, account: CreditAccount) -> GenerationRequest:
        price = self._config.prices.sample_round(account.tier)
        _ensure_affordable(account, price)
        now = self._clock.now()
        request = GenerationRequest.create(
            request_id=self._new_id(),
            user_id=command.user_id,
            project_id=command.project_id,
            parameters=command.parameters,
            now=now,
            correlation_id=command.correlation_id,
        )
        model = self._model(account, JobType.SAMPLES, sample_size(request.parameters.dimensions))
        request.start_credit_check(self._new_id(), price, now, model)
        return request

    async def _store_new(self, uow: UnitOfWork, request: GenerationRequest) -> None:
        await uow.requests.lock_user(request.user_id)
        active = await uow.requests.count_active(request.user_id)
        if active >= self._config.max_active_requests:
            raise TooManyActiveRequests(
                f"{active} requests are still processing; wait for one to finish."
            )
        await self._saga.charge_within(uow, request)
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
        request.ensure_can_select(command.sample_id)
        account = await self._credits.get_account(command.user_id)
        price = self._config.prices.final(account.tier, command.resolution)
        _ensure_affordable(account, price)
        size = final_size(request.parameters.dimensions, command.resolution)
        job_id, model = self._new_id(), self._model(account, JobType.FINAL, size)

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
        request.ensure_can_regenerate()
        account = await self._credits.get_account(user_id)
        price = self._config.prices.sample_round(account.tier)
        _ensure_affordable(account, price)
        size = sample_size(request.parameters.dimensions)
        job_id, model = self._new_id(), self._model(account, JobType.SAMPLES, size)
        request = await self._transactions.change(
            request_id,
            lambda r: r.regenerate(job_id, price, self._clock.now(), model),
            user_id,
            within=self._saga.charge_within,
        )
        return await self._saga.finish(request)

    async def cancel(self, request_id: str, user_id: str) -> GenerationRequest:
        return await self._transactions.change(
            request_id, lambda r: r.cancel(self._clock.now()), user_id
        )

    # --- n8n callbacks -----------------------------------------------------------------------

    async def process_n8n_sample_callback(self, result: SamplesResult) -> CallbackOutcome:
        return await self._transactions.apply(
            result.request_id,
            result.job_id,
            result.webhook_id,
            lambda r: r.apply_samples(
                result.job_id, result.samples, result.ai_model_used, self._clock.now()
            ),
        )

    async def process_n8n_final_asset_callback(self, result: FinalResult) -> CallbackOutcome:
        return await self._transactions.apply(
            result.request_id,
            result.job_id,
            result.webhook_id,
            lambda r: r.apply_final(
                result.job_id, result.asset, result.ai_model_used, self._clock.now()
            ),
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

    def _model(self, account: CreditAccount, job_type: JobType, size: Dimensions) -> str:
        return self._config.model_selector.choose(account.tier, job_type, size)


def _ensure_affordable(account: CreditAccount, price: Decimal) -> None:
    if account.balance < price:
        raise InsufficientCredits(
            f"This step costs {price} credits and the balance is {account.balance}."
        )


def _owned(request: GenerationRequest | None, user_id: str) -> GenerationRequest:
    if request is None or request.user_id != user_id:
        raise NotFound("No generation request with this id.")
    return request
