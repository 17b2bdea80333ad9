"""The creative moves on a request (contract 1.1 §7): a final from any sample, a new round of
samples, a variation of one sample. Each is a step that costs credits: the account is read
before the transaction, the step is opened and charged in it, and completed after it
(chargers/)."""

from ...domain.models import GenerationRequest, Move
from ..chargers import CreditCharger
from ..dtos import SelectSample, VarySample
from ..errors import ContentPolicyViolation
from ..moderation import PromptModerator
from ..ports import CreditAccount, UnitOfWorkFactory
from ..unit_of_work import locked, retry_on_concurrent_update
from .steps import Ids, StepPlanner


class CreativeMoves:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        charger: CreditCharger,
        steps: StepPlanner,
        ids: Ids,
        moderator: PromptModerator,
    ) -> None:
        self._uow = uow
        self._charger = charger
        self._steps = steps
        self._ids = ids
        self._moderator = moderator

    async def select_sample_and_initiate_final(self, command: SelectSample) -> GenerationRequest:
        account = await self._charger.account(command.user_id)
        (request,) = await self._charger.complete([await self._select(command, account)])
        return request

    async def trigger_sample_regeneration(self, request_id: str, user_id: str) -> GenerationRequest:
        account = await self._charger.account(user_id)
        (request,) = await self._charger.complete(
            [await self._regenerate(request_id, user_id, account)]
        )
        return request

    async def vary_sample(self, command: VarySample) -> GenerationRequest:
        """A round of samples made from one sample (Midjourney's V1-V4), charged as a round."""
        if command.prompt is not None and (term := self._moderator.violation(command.prompt)):
            raise ContentPolicyViolation(f"The prompt contains a blocked term ({term}).")
        account = await self._charger.account(command.user_id)
        (request,) = await self._charger.complete([await self._vary(command, account)])
        return request

    @retry_on_concurrent_update
    async def _select(self, command: SelectSample, account: CreditAccount) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, command.request_id, command.user_id)
            request.ensure_can(Move.SELECT, command.sample_id)
            step = self._steps.final(account, request, command.resolution)
            request.select_sample(
                command.sample_id,
                command.resolution,
                command.output_format,
                step.job_id,
                step.price,
                step.now,
                step.model,
            )
            await self._charger.charge(uow, [request])
            await uow.commit()
        return request

    @retry_on_concurrent_update
    async def _regenerate(
        self, request_id: str, user_id: str, account: CreditAccount
    ) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, request_id, user_id)
            request.ensure_can(Move.REGENERATE)
            step = self._steps.samples(account, request)
            seed = self._ids.new_seed()
            request.regenerate(step.job_id, step.price, step.now, step.model, seed=seed)
            await self._charger.charge(uow, [request])
            await uow.commit()
        return request

    @retry_on_concurrent_update
    async def _vary(self, command: VarySample, account: CreditAccount) -> GenerationRequest:
        async with self._uow() as uow:
            request = await locked(uow, command.request_id, command.user_id)
            request.ensure_can(Move.VARY, command.sample_id, "sample_id")
            step = self._steps.samples(account, request)
            request.vary(
                command.sample_id,
                command.strength,
                command.prompt,
                step.job_id,
                step.price,
                step.now,
                step.model,
            )
            await self._charger.charge(uow, [request])
            await uow.commit()
        return request
