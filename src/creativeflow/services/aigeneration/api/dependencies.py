"""What the routes use, as application services and ports, and the FastAPI dependencies that
hand each to a route. The composition root (composition/root.py) builds ApiServices; main.py
puts it on the app. Nothing here knows an adapter: the import contracts keep it so."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from standardwebhooks import Webhook

from ..application.admin import AdminService
from ..application.asset_service import AssetService
from ..application.assets import AssetLinks
from ..application.orchestration_service import OrchestrationService
from ..application.ports import CreditGateway, IdempotencyStore, Metrics, StatusChanges
from ..core.config import Settings
from ..core.errors import ApiError
from ..core.security import TokenVerifier, Unauthenticated
from ..domain.errors import ErrorCode

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
    service: OrchestrationService
    admin: AdminService
    assets: AssetService
    links: AssetLinks
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


async def get_orchestration_service(request: Request) -> OrchestrationService:
    return services_of(request).service


async def get_asset_service(request: Request) -> AssetService:
    return services_of(request).assets


async def get_links(request: Request) -> AssetLinks:
    return services_of(request).links


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
ServiceDep = Annotated[OrchestrationService, Depends(get_orchestration_service)]
AssetServiceDep = Annotated[AssetService, Depends(get_asset_service)]
LinksDep = Annotated[AssetLinks, Depends(get_links)]
CurrentUser = Annotated[str, Depends(get_current_user)]
AdminUser = Annotated[str, Depends(get_admin)]
