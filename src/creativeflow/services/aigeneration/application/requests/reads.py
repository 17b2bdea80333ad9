"""The user's requests as they are: one by id (another user's is not found, exactly as an
unknown one) and a page of them, newest first."""

from ...domain.models import GenerationRequest
from ...domain.repositories import ListQuery
from ..dtos import ListRequests
from ..errors import NotFound
from ..ports import UnitOfWorkFactory


class RequestReads:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def get_generation_status(self, request_id: str, user_id: str) -> GenerationRequest:
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        if request is None or request.user_id != user_id:
            raise NotFound("No generation request with this id.")
        return request

    async def list_generation_requests(self, query: ListRequests) -> list[GenerationRequest]:
        async with self._uow(read_only=True) as uow:
            return await uow.requests.list_for_user(
                ListQuery(query.user_id, query.limit, query.project_id, query.status, query.after)
            )
