"""`GET /jobs/{job_id}/status` (contract §8): what a job's `status_url` answers. n8n asks it
before it calls the model and skips the job on anything but `{"current": true}`."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ...dependencies import JobStatusDep
from ..responses import errors

router = APIRouter(prefix="/jobs", tags=["n8n"])
# no length or pattern here: any wrong link parameter is the same 403 (contract §6), not a 422
LinkParam = Annotated[str, Query(description="Part of the signed link the job carries")]


class JobStatusRead(BaseModel):
    current: bool = Field(description="`true`: render it; `false`: skip it (no model call)")


@router.get(
    "/{job_id}/status",
    operation_id="getJobStatus",
    response_model=JobStatusRead,
    responses=errors(403),
)
async def job_status(
    job_id: Annotated[str, Path(max_length=64, description="The job's `job_id`")],
    status: JobStatusDep,
    request_id: LinkParam = "",
    expires: LinkParam = "",
    signature: LinkParam = "",
) -> JobStatusRead:
    """Whether the job is still the request's job in flight (not cancelled, superseded by a
    regeneration or a new move, or timed out)."""
    status.links.check(job_id, request_id, expires, signature)
    return JobStatusRead(current=await status.job_is_current(request_id, job_id))
