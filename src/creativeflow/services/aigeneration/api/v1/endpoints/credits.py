"""`GET /credits` (contract §8): the caller's balance and tier, from the credit backend."""

from fastapi import APIRouter

from ...dependencies import CreditsDep, CurrentUser
from ..read_schemas import CreditsRead
from ..responses import errors

router = APIRouter(tags=["credits"])


@router.get(
    "/credits", operation_id="getCredits", response_model=CreditsRead, responses=errors(401, 503)
)
async def get_credits(user: CurrentUser, credits: CreditsDep) -> CreditsRead:
    account = await credits.get_account(user)
    return CreditsRead(balance=float(account.balance), subscription_tier=str(account.tier))
