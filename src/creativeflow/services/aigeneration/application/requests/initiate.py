"""Start generating (contract §1, §7): one request, or a batch of them charged by one debit for
the sum. Checked before any charge (the prompt's terms, the webhook URL, the caller's own
images and model), then created, counted against the user's active limit and charged in one
transaction, and completed after it (chargers/)."""

from collections.abc import Sequence
from dataclasses import replace

from ...domain.errors import InvalidValue
from ...domain.formats import sample_size
from ...domain.models import GenerationRequest, InputImage, JobType
from ..chargers import CreditCharger
from ..dtos import CreateGeneration, OrchestrationConfig
from ..errors import ContentPolicyViolation, TooManyActiveRequests
from ..moderation import PromptModerator
from ..ports import Clock, CreditAccount, Metrics, UnitOfWork, UnitOfWorkFactory, WebhookUrlPolicy
from .steps import Ids, StepPlanner, ensure_affordable


class InitiateGeneration:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        charger: CreditCharger,
        clock: Clock,
        config: OrchestrationConfig,
        ids: Ids,
        checks: "PreChecks",
        metrics: Metrics,
    ) -> None:
        self._uow = uow
        self._charger = charger
        self._clock = clock
        self._config = config
        self._ids = ids
        self._steps = StepPlanner(config, clock, ids)
        self._checks = checks
        self._metrics = metrics

    async def initiate_generation(self, command: CreateGeneration) -> GenerationRequest:
        (request,) = await self._initiate([command], batch_id=None)
        return request

    async def initiate_batch(self, commands: Sequence[CreateGeneration]) -> list[GenerationRequest]:
        """A campaign: several requests of one user, all or nothing, charged by one debit for
        the sum (a refused batch creates and charges nothing)."""
        return await self._initiate(commands, batch_id=self._ids.new_id())

    async def _initiate(
        self, commands: Sequence[CreateGeneration], batch_id: str | None
    ) -> list[GenerationRequest]:
        for command in commands:
            await self._checks.check(command)
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
        ensure_affordable(account, total)
        now = self._clock.now()
        batch = (batch_id, total) if batch_id is not None else None
        for request in requests:
            size = sample_size(request.parameters.dimensions)
            model = self._steps.model(account, request, JobType.SAMPLES, size)
            request.start_credit_check(self._ids.new_id(), price, now, model, batch=batch)
        return requests

    async def _new_request(
        self, uow: UnitOfWork, command: CreateGeneration, account: CreditAccount
    ) -> GenerationRequest:
        params = command.parameters
        if params.model is not None:
            self._config.model_selector.ensure_usable(params.model, account.tier)
        images = await _input_images(uow, command)
        seed = self._ids.new_seed() if params.seed is None else params.seed
        return GenerationRequest.create(
            request_id=self._ids.new_id(),
            user_id=command.user_id,
            project_id=command.project_id,
            parameters=replace(params, input_images=images, seed=seed),
            now=self._clock.now(),
            correlation_id=command.correlation_id,
        )


class PreChecks:
    """What is refused before anything is charged: a blocked term in the prompt, a webhook URL
    into our own network."""

    def __init__(self, moderator: PromptModerator, webhook_urls: WebhookUrlPolicy | None) -> None:
        self._moderator = moderator
        self._webhook_urls = webhook_urls

    async def check(self, command: CreateGeneration) -> None:
        params = command.parameters
        if term := self._moderator.violation(params.prompt, params.style_guidance):
            raise ContentPolicyViolation(f"The prompt contains a blocked term ({term}).")
        if params.webhook_url and self._webhook_urls is not None:
            await self._webhook_urls.check(params.webhook_url)


async def _input_images(uow: UnitOfWork, command: CreateGeneration) -> tuple[InputImage, ...]:
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
            InputImage(i, owned[i].info.format, purpose, owned[i].key) for i in dict.fromkeys(ids)
        ]
    return tuple(images)
