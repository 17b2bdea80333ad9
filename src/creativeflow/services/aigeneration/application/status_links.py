"""A job's `status_url` (contract §8): a link of the service, signed and valid until the job's
deadline plus LINK_GRACE, that n8n asks before it calls the model. A job cancelled or
superseded while it waited in the queue answers `{"current": false}`, and the model is never
paid for pictures nobody will see."""

from urllib.parse import quote

from ..domain.models import Job
from .asset_service import LINK_REFUSED
from .assets import LINK_GRACE
from .errors import Forbidden
from .ports import SignedLinks


class JobStatusLinks:
    def __init__(self, signed: SignedLinks, base_url: str) -> None:
        self._signed = signed
        self._base = base_url.rstrip("/")  # `{PUBLIC_BASE_URL}{API_V1_STR}`

    def for_job(self, request_id: str, job: Job) -> str:
        assert job.deadline is not None, "a dispatched job has its deadline"
        expires = job.deadline.replace(microsecond=0) + LINK_GRACE
        query = self._signed.sign("GET", _subject(job.job_id), expires, request_id)
        return (
            f"{self._base}/jobs/{quote(job.job_id, safe='')}/status"
            f"?request_id={quote(request_id, safe='')}&{query}"
        )

    def valid(self, job_id: str, request_id: str, expires: str, signature: str) -> bool:
        return self._signed.valid("GET", _subject(job_id), expires, signature, request_id)

    def check(self, job_id: str, request_id: str, expires: str, signature: str) -> None:
        """Any link not signed by us for this job and request, or expired: 403."""
        if not self.valid(job_id, request_id, expires, signature):
            raise Forbidden(LINK_REFUSED)


def _subject(job_id: str) -> str:
    return f"job-status:{job_id}"  # never an asset id: an asset link cannot pass for it
