"""What a job's `status_url` answers (contract §8): whether n8n should still render it."""

from ..ports import UnitOfWorkFactory
from ..status_links import JobStatusLinks


class JobStatus:
    """What a job's `status_url` answers (contract §8): whether n8n should still render it."""

    def __init__(self, uow: UnitOfWorkFactory, links: JobStatusLinks) -> None:
        self._uow = uow
        self.links = links

    async def job_is_current(self, request_id: str, job_id: str) -> bool:
        """Whether `job_id` is the request's job in flight (not cancelled, superseded by a
        regeneration or a new move, or timed out)."""
        async with self._uow(read_only=True) as uow:
            request = await uow.requests.get(request_id)
        return request is not None and request.renders(job_id)
