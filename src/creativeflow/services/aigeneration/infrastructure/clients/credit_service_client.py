"""The credit service over HTTP (contract §4)."""

from decimal import Decimal, InvalidOperation
from urllib.parse import quote

import httpx

from ...application.errors import CreditsDeclined, DependencyUnavailable
from ...application.ports import CreditAccount, Debit, Refund
from ...domain.pricing import SubscriptionTier
from .http_errors import raise_for_server_error, translate_http_errors

SERVICE = "credit service"


class HttpCreditServiceClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_account(self, user_id: str) -> CreditAccount:
        async with translate_http_errors(SERVICE):
            response = await self._http.get(
                f"{self._base_url}/users/{quote(user_id, safe='')}/credits"
            )
        raise_for_server_error(response, SERVICE)
        if response.status_code != 200:
            raise DependencyUnavailable(f"The {SERVICE} answered {response.status_code}.")
        try:
            body = response.json()
            balance = Decimal(str(body["balance"]))
        except (ValueError, KeyError, TypeError, InvalidOperation):
            raise DependencyUnavailable(f"The {SERVICE} sent a malformed balance.") from None
        return CreditAccount(balance, SubscriptionTier.parse(body.get("subscription_tier")))

    async def debit(self, debit: Debit) -> None:
        payload = {
            "user_id": debit.user_id,
            "amount": str(debit.amount),
            "reference": debit.reference,
            "action_type": debit.action_type,
            "idempotency_key": debit.idempotency_key,
        }
        response = await self._post("/debits", payload)
        if response.status_code == 402:
            raise CreditsDeclined(debit.user_id)
        self._expect_success(response)

    async def refund(self, refund: Refund) -> None:
        payload = {
            "user_id": refund.user_id,
            "amount": str(refund.amount),
            "reference": refund.reference,
            "reason": refund.reason,
            "idempotency_key": refund.idempotency_key,
        }
        self._expect_success(await self._post("/refunds", payload))

    async def _post(self, path: str, payload: dict[str, str]) -> httpx.Response:
        headers = {"Idempotency-Key": payload["idempotency_key"]}
        async with translate_http_errors(SERVICE):
            response = await self._http.post(
                f"{self._base_url}{path}", json=payload, headers=headers
            )
        raise_for_server_error(response, SERVICE)
        return response

    @staticmethod
    def _expect_success(response: httpx.Response) -> None:
        # 409: this idempotency key was used before, so the money already moved.
        if not (response.is_success or response.status_code == 409):
            raise DependencyUnavailable(
                f"The {SERVICE} refused the call with {response.status_code}: {response.text[:200]}"
            )
