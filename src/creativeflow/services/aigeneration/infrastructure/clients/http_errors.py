"""httpx failures → the application's DependencyUnavailable, saying whether the call may have
reached the other side (so money moves are settled rather than guessed)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from ...application.errors import DependencyUnavailable


@asynccontextmanager
async def translate_http_errors(service: str) -> AsyncIterator[None]:
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise DependencyUnavailable(f"The {service} cannot be reached.") from exc
    except httpx.HTTPError as exc:
        raise DependencyUnavailable(
            f"The {service} did not answer in time.", maybe_applied=True
        ) from exc


def raise_for_server_error(response: httpx.Response, service: str) -> None:
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise DependencyUnavailable(
            f"The {service} answered {response.status_code}.", maybe_applied=True
        )


def new_http_client(timeout_seconds: float = 5.0, max_connections: int = 50) -> httpx.AsyncClient:
    """One keep-alive pool per remote service; short connect timeout, bounded reads."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, connect=2.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    )
