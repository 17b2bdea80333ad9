"""Credits kept in Odoo, over its JSON-RPC endpoint (`/jsonrpc`): `common.login`, then
`object.execute_kw` on a model and methods named by settings. Each method takes keyword
arguments and returns a dict; see docs/OPERATIONS.md for the Odoo side."""

import asyncio
import itertools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from ...application.errors import CreditsDeclined, DependencyUnavailable
from ...application.ports import CreditAccount, Debit, Refund
from ...domain.pricing import SubscriptionTier
from .http_errors import raise_for_server_error, translate_http_errors

SERVICE = "Odoo credit service"


@dataclass(frozen=True)
class OdooSettings:
    url: str
    database: str
    username: str
    password: str
    model: str = "creativeflow.credit.account"
    balance_method: str = "get_balance"
    debit_method: str = "debit_credits"
    refund_method: str = "refund_credits"
    insufficient_marker: str = "InsufficientCredits"


class OdooError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class OdooCreditGateway:
    def __init__(self, http: httpx.AsyncClient, settings: OdooSettings) -> None:
        self._http = http
        self._settings = settings
        self._uid: int | None = None
        self._login_lock = asyncio.Lock()
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_account(self, user_id: str) -> CreditAccount:
        result = await self._execute(self._settings.balance_method, user_id=user_id)
        try:
            balance = Decimal(str(result["balance"]))
        except (KeyError, TypeError, InvalidOperation):
            raise DependencyUnavailable(f"The {SERVICE} sent a malformed balance.") from None
        return CreditAccount(balance, SubscriptionTier.parse(result.get("subscription_tier")))

    async def debit(self, debit: Debit) -> None:
        await self._execute(
            self._settings.debit_method,
            user_id=debit.user_id,
            amount=str(debit.amount),
            reference=debit.reference,
            action_type=debit.action_type,
            idempotency_key=debit.idempotency_key,
        )

    async def refund(self, refund: Refund) -> None:
        await self._execute(
            self._settings.refund_method,
            user_id=refund.user_id,
            amount=str(refund.amount),
            reference=refund.reference,
            reason=refund.reason,
            idempotency_key=refund.idempotency_key,
        )

    async def _execute(self, method: str, **kwargs: Any) -> Any:
        uid = await self._login()
        s = self._settings
        try:
            return await self._call(
                "object", "execute_kw", [s.database, uid, s.password, s.model, method, [], kwargs]
            )
        except OdooError as error:
            if s.insufficient_marker in error.name or s.insufficient_marker in error.message:
                raise CreditsDeclined(kwargs.get("user_id", "")) from None
            if "AccessDenied" in error.name or "SessionExpired" in error.name:
                self._uid = None  # log in again next time
            raise DependencyUnavailable(
                f"The {SERVICE} refused {method}: {error.message}"
            ) from None

    async def _login(self) -> int:
        if self._uid is not None:
            return self._uid
        async with self._login_lock:
            if self._uid is None:
                s = self._settings
                try:
                    uid = await self._call("common", "login", [s.database, s.username, s.password])
                except OdooError as error:
                    raise DependencyUnavailable(
                        f"{SERVICE} login failed: {error.message}"
                    ) from None
                if not isinstance(uid, int) or uid <= 0:
                    raise DependencyUnavailable(f"{SERVICE} login was refused for {s.username!r}.")
                self._uid = uid
            return self._uid

    async def _call(self, service: str, method: str, args: list[Any]) -> Any:
        request = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        async with translate_http_errors(SERVICE):
            response = await self._http.post(
                f"{self._settings.url.rstrip('/')}/jsonrpc", json=request
            )
        raise_for_server_error(response, SERVICE)
        try:
            body = response.json()
        except ValueError:
            raise DependencyUnavailable(f"The {SERVICE} sent a malformed answer.") from None
        if body.get("error"):
            data = body["error"].get("data") or {}
            raise OdooError(
                str(data.get("name", "odoo.error")),
                str(data.get("message") or body["error"].get("message", "")),
            )
        return body.get("result")
