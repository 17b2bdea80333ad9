"""Whether a request carries a valid signed link, read from its path and query before any
route runs: a validly signed link (a worker's fetch or upload, a job's status question) is
the only thing that skips admission's bound (api/load_shedding.py)."""

from urllib.parse import parse_qsl

from starlette.types import Scope

from ..application.asset_service import SignedLink
from .dependencies import ApiServices
from .middleware import signed_link_paths


class SignedLinkCheck:
    def __init__(self, services: ApiServices, api_prefix: str) -> None:
        self._services = services
        self._paths = signed_link_paths(api_prefix)

    def __call__(self, scope: Scope) -> bool:
        match = self._paths.match(scope["path"])
        if match is None:
            return False
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        link = SignedLink(
            query.get("expires", ""),
            query.get("signature", ""),
            query.get("request_id", ""),
            query.get("job_id", ""),
        )
        if (job_id := match["job_id"]) is not None:
            links = self._services.job_status.links
            return links.valid(job_id, link.request_id, link.expires, link.signature)
        return self._services.assets.link_verifies(scope["method"], match["asset_id"], link)
