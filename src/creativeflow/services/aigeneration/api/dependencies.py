"""What the routes use, as application use cases and ports, and the FastAPI dependencies that
hand each route the one it calls. The composition root (composition/root.py) builds
ApiServices; main.py puts it on the app. Nothing here knows an adapter: the import contracts
keep it so."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from standardwebhooks import Webhook

from ..application.admin.deliveries import AdminDeliveries
from ..application.admin.requests import AdminRequests
from ..application.asset_service import AssetService
from ..application.assets import AssetLinks
from ..application.model_selector import ModelSelector
from ..application.ports import CreditGateway, IdempotencyStore, Metrics, StatusChanges
from ..application.requests.creative_moves import CreativeMoves
from ..application.requests.initiate import InitiateGeneration
from ..application.requests.lifecycle import RequestLifecycle
from ..application.requests.reads import RequestReads
from ..application.results.callbacks import ApplyResults
from ..application.results.job_status import JobStatus
from ..core.config import Settings
from ..core.errors import ApiError
from ..core.security import TokenVerifier, Unauthenticated
from ..domain.errors import ErrorCode
from ..domain.pricing import PriceList

ADMIN_ROLE = "admin"
# a readiness check: True ready, False not, None not checked now (e.g. the relay does not run)
ReadinessCheck = Callable[[], Awaitable[bool | None]]


@dataclass(frozen=True)
class MetricsPage:
    body: bytes
    media_type: str


@dataclass(frozen=True)
class ApiServices:
    settings: Settings
    initiate: InitiateGeneration
    moves: CreativeMoves
    lifecycle: RequestLifecycle
    reads: RequestReads
    results: ApplyResults
    job_status: JobStatus
    admin_deliveries: AdminDeliveries
    admin_requests: AdminRequests
    assets: AssetService
    links: AssetLinks
    prices: PriceList
    models: ModelSelector
    credits: CreditGateway
    idempotency: IdempotencyStore
    status_feed: StatusChanges
    tokens: TokenVerifier
    callback_webhook: Webhook  # verifies n8n's signed callbacks
    metrics: Metrics
    readiness: Mapping[str, ReadinessCheck]  # by name: database, storage, broker, relay
    metrics_page: Callable[[], Awaitable[MetricsPage]]


# --- FastAPI dependencies --------------------------------------------------------------------
# Each is `async def` though none awaits: FastAPI runs a plain `def` dependency in its thread
# pool, which costs about 100 µs of CPU and a thread hop a request.


def services_of(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


async def get_services(request: Request) -> ApiServices:
    return services_of(request)


async def get_initiate(request: Request) -> InitiateGeneration:
    return services_of(request).initiate


async def get_moves(request: Request) -> CreativeMoves:
    return services_of(request).moves


async def get_lifecycle(request: Request) -> RequestLifecycle:
    return services_of(request).lifecycle


async def get_reads(request: Request) -> RequestReads:
    return services_of(request).reads


async def get_results(request: Request) -> ApplyResults:
    return services_of(request).results


async def get_job_status(request: Request) -> JobStatus:
    return services_of(request).job_status


async def get_admin_deliveries(request: Request) -> AdminDeliveries:
    return services_of(request).admin_deliveries


async def get_admin_requests(request: Request) -> AdminRequests:
    return services_of(request).admin_requests


async def get_asset_service(request: Request) -> AssetService:
    return services_of(request).assets


async def get_links(request: Request) -> AssetLinks:
    return services_of(request).links


async def get_idempotency(request: Request) -> IdempotencyStore:
    return services_of(request).idempotency


async def get_credits(request: Request) -> CreditGateway:
    return services_of(request).credits


async def get_prices(request: Request) -> PriceList:
    return services_of(request).prices


async def get_models(request: Request) -> ModelSelector:
    return services_of(request).models


bearer_scheme = HTTPBearer(auto_error=False)


async def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    return await services_of(request).tokens.user_id(credentials.credentials)


async def get_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    """An administrator: a token whose roles claim (JWT_ROLES_CLAIM) holds `admin`."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    principal = await services_of(request).tokens.principal(credentials.credentials)
    if ADMIN_ROLE not in principal.roles:
        raise ApiError(403, ErrorCode.FORBIDDEN, "This route is for administrators.")
    return principal.user_id


ServicesDep = Annotated[ApiServices, Depends(get_services)]
InitiateDep = Annotated[InitiateGeneration, Depends(get_initiate)]
MovesDep = Annotated[CreativeMoves, Depends(get_moves)]
LifecycleDep = Annotated[RequestLifecycle, Depends(get_lifecycle)]
ReadsDep = Annotated[RequestReads, Depends(get_reads)]
ResultsDep = Annotated[ApplyResults, Depends(get_results)]
JobStatusDep = Annotated[JobStatus, Depends(get_job_status)]
AdminDeliveriesDep = Annotated[AdminDeliveries, Depends(get_admin_deliveries)]
AdminRequestsDep = Annotated[AdminRequests, Depends(get_admin_requests)]
AssetServiceDep = Annotated[AssetService, Depends(get_asset_service)]
LinksDep = Annotated[AssetLinks, Depends(get_links)]
IdempotencyDep = Annotated[IdempotencyStore, Depends(get_idempotency)]
CreditsDep = Annotated[CreditGateway, Depends(get_credits)]
PricesDep = Annotated[PriceList, Depends(get_prices)]
ModelsDep = Annotated[ModelSelector, Depends(get_models)]
CurrentUser = Annotated[str, Depends(get_current_user)]
AdminUser = Annotated[str, Depends(get_admin)]
