"""The use cases. Each opens a unit of work, loads the aggregate with a lock, asks it to move,
stages the outbox rows its events call for, and commits once.

Charging follows the credit saga of DESIGN.md: the step is committed as `validating_credits`
first, then debited with the idempotency key `{request_id}:{step}:{round}`, then dispatched
in a second transaction. A crash between the two leaves a row the recovery sweep re-drives
with the same key, so a debit can never happen twice."""

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TypeVar

from ..domain.errors import DomainError
from ..domain.formats import Dimensions, final_size, sample_size
from ..domain.models import (
    CallbackOutcome,
    Charge,
    GenerationRequest,
    GenerationStatus,
    JobType,
)
from ..domain.pricing import PriceList
from ..domain.repositories import ConcurrentUpdate, ListQuery
from .credit_moves import debit_for
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
    CreditsDeclined,
    DependencyUnavailable,
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
from .side_effects import outbox_messages

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_OPTIMISTIC_RETRIES = 5
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
        return await self._continue_saga(request)

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
        await self._charge_within(uow, request)
        await uow.requests.add(request)
        self._stage(uow, request)
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

        request = await self._change(command.request_id, select, command.user_id, charge=True)
        return await self._continue_saga(request)

    async def trigger_sample_regeneration(self, request_id: str, user_id: str) -> GenerationRequest:
        request = await self.get_generation_status(request_id, user_id)
        request.ensure_can_regenerate()
        account = await self._credits.get_account(user_id)
        price = self._config.prices.sample_round(account.tier)
        _ensure_affordable(account, price)
        size = sample_size(request.parameters.dimensions)
        job_id, model = self._new_id(), self._model(account, JobType.SAMPLES, size)
        request = await self._change(
            request_id,
            lambda r: r.regenerate(job_id, price, self._clock.now(), model),
            user_id,
            charge=True,
        )
        return await self._continue_saga(request)

    async def cancel(self, request_id: str, user_id: str) -> GenerationRequest:
        return await self._change(request_id, lambda r: r.cancel(self._clock.now()), user_id)

    # --- n8n callbacks -----------------------------------------------------------------------

    async def process_n8n_sample_callback(self, result: SamplesResult) -> CallbackOutcome:
        return await self._apply(
            result.request_id,
            result.job_id,
            result.webhook_id,
            lambda r: r.apply_samples(
                result.job_id, result.samples, result.ai_model_used, self._clock.now()
            ),
        )

    async def process_n8n_final_asset_callback(self, result: FinalResult) -> CallbackOutcome:
        return await self._apply(
            result.request_id,
            result.job_id,
            result.webhook_id,
            lambda r: r.apply_final(
                result.job_id, result.asset, result.ai_model_used, self._clock.now()
            ),
        )

    async def handle_n8n_error(self, error: JobError) -> CallbackOutcome:
        return await self._apply(
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

    # --- the saga and the transaction helpers -----------------------------------------------

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
                await self._charge_and_dispatch(request)
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
            outcome = await self._in_transaction(
                request_id, lambda r: r.time_out(self._clock.now()), None, commit_if=bool
            )
            failed += int(outcome)
        return failed

    # --- the saga and the transaction helpers -----------------------------------------------

    async def _charge_within(self, uow: UnitOfWork, request: GenerationRequest) -> None:
        """Credits in our own database: debit and dispatch inside this transaction. A short
        balance raises and rolls everything back, so nothing of the step is stored."""
        job = request.current_job
        if uow.ledger is None or job is None:
            return
        if job.price > 0:
            try:
                await uow.ledger.debit(debit_for(request, job))
            except CreditsDeclined:
                raise InsufficientCredits("Not enough credits for this step.") from None
        self._dispatch(request)

    async def _continue_saga(self, request: GenerationRequest) -> GenerationRequest:
        """Credits elsewhere: the step is committed as validating_credits; charge, dispatch."""
        if request.status is not GenerationStatus.VALIDATING_CREDITS:
            return request  # charged and dispatched in its own transaction already
        return await self._charge_and_dispatch(request)

    def _dispatch(self, request: GenerationRequest) -> None:
        job = request.current_job
        assert job is not None
        now = self._clock.now()
        request.credits_charged(now)
        deadline = (
            self._config.sample_deadline
            if job.job_type is JobType.SAMPLES
            else self._config.final_deadline
        )
        request.job_dispatched(now, now + deadline)

    async def _charge_and_dispatch(self, request: GenerationRequest) -> GenerationRequest:
        job = request.current_job
        assert job is not None, "a step was just opened"
        if job.price > 0:
            try:
                await self._credits.debit(debit_for(request, job))
            except CreditsDeclined:
                await self._change(request.id, lambda r: r.credits_declined(self._clock.now()))
                raise InsufficientCredits("Not enough credits for this step.") from None
            except DependencyUnavailable as exc:
                charge = Charge.UNKNOWN if exc.maybe_applied else Charge.NOT_TAKEN
                await self._change(
                    request.id,
                    lambda r: r.fail_step(
                        "dependency_unavailable",
                        "The credit service could not be reached; nothing was charged.",
                        True,
                        self._clock.now(),
                        charge=charge,
                    ),
                )
                raise

        return await self._change(request.id, self._dispatch)

    async def _change(
        self,
        request_id: str,
        change: Callable[[GenerationRequest], None],
        user_id: str | None = None,
        *,
        charge: bool = False,
    ) -> GenerationRequest:
        """Load with a lock, change, stage side effects, commit: one transaction. With
        `charge`, a step the change opened is charged in it too when the ledger is local."""

        def changed(request: GenerationRequest) -> GenerationRequest:
            change(request)
            return request

        return await self._in_transaction(
            request_id, changed, user_id, commit_if=_always, charge=charge
        )

    async def _apply(
        self,
        request_id: str,
        job_id: str,
        webhook_id: str | None,
        apply: Callable[[GenerationRequest], CallbackOutcome],
    ) -> CallbackOutcome:
        """A callback, once: a replayed webhook-id, or a job already settled, changes nothing."""
        finished: list[GenerationRequest] = []

        def apply_and_keep(request: GenerationRequest) -> CallbackOutcome:
            outcome = apply(request)
            finished.append(request)
            return outcome

        outcome = await self._in_transaction(
            request_id, apply_and_keep, None, commit_if=_applied, webhook_id=webhook_id
        )
        job = finished[-1].find_job(job_id) if outcome is CallbackOutcome.APPLIED else None
        if job is not None and job.duration_ms is not None:
            self._metrics.job_round_trip(job.job_type, job.duration_ms / 1000)
        return outcome

    async def _in_transaction(
        self,
        request_id: str,
        work: Callable[[GenerationRequest], T],
        user_id: str | None,
        commit_if: Callable[[T], bool],
        webhook_id: str | None = None,
        charge: bool = False,
    ) -> T:
        for attempt in range(MAX_OPTIMISTIC_RETRIES):
            try:
                async with self._uow() as uow:
                    request = await uow.requests.get_for_update(request_id)
                    if request is None or (user_id is not None and request.user_id != user_id):
                        raise NotFound("No generation request with this id.")
                    if webhook_id is not None and await uow.receipts.seen(webhook_id):
                        return CallbackOutcome.DUPLICATE  # type: ignore[return-value]
                    before = request.status
                    result = work(request)
                    if charge:
                        await self._charge_within(uow, request)
                    if commit_if(result):
                        if webhook_id is not None:
                            await uow.receipts.add(webhook_id)
                        self._stage(uow, request)
                        await uow.requests.save(request)
                        await uow.commit()
                        if request.status != before:
                            self._metrics.status_changed(before, request.status)
                    return result
            except ConcurrentUpdate:
                log.info("request %s changed concurrently, retry %d", request_id, attempt + 1)
        raise DependencyUnavailable("The request is busy; try again.", retry_after_seconds=1)

    def _stage(self, uow: UnitOfWork, request: GenerationRequest) -> None:
        for message in outbox_messages(request, request.pull_events(), self._config):
            uow.outbox.add(message)

    def _model(self, account: CreditAccount, job_type: JobType, size: Dimensions) -> str:
        return self._config.model_selector.choose(account.tier, job_type, size)


def _always(_: object) -> bool:
    return True


def _applied(outcome: CallbackOutcome) -> bool:
    return outcome is CallbackOutcome.APPLIED


def _ensure_affordable(account: CreditAccount, price: Decimal) -> None:
    if account.balance < price:
        raise InsufficientCredits(
            f"This step costs {price} credits and the balance is {account.balance}."
        )


def _owned(request: GenerationRequest | None, user_id: str) -> GenerationRequest:
    if request is None or request.user_id != user_id:
        raise NotFound("No generation request with this id.")
    return request
