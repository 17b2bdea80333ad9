"""The embedded credit backend: accounts and idempotent ledger entries in our own database.

Each money move is one transaction that inserts its ledger entry (primary key = the
idempotency key) and moves the balance: a repeated key inserts nothing and moves nothing."""

from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ...application.errors import CreditsDeclined
from ...application.ports import Clock, CreditAccount, Debit, Refund
from ...domain.pricing import SubscriptionTier
from ..database.errors import transaction
from ..database.tables import credit_accounts, credit_ledger_entries
from ..database.upsert import insert_ignoring_duplicates


class LocalLedger:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        starting_balance: Decimal,
        starting_tier: SubscriptionTier = SubscriptionTier.FREE,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._starting_balance = starting_balance
        self._starting_tier = starting_tier

    async def get_account(self, user_id: str) -> CreditAccount:
        async with transaction(self._engine) as connection:
            await self._open_account(connection, user_id)
            row = (
                await connection.execute(
                    select(credit_accounts).where(credit_accounts.c.user_id == user_id)
                )
            ).one()
        return CreditAccount(row.balance, SubscriptionTier.parse(row.subscription_tier))

    async def debit(self, debit: Debit) -> None:
        async with transaction(self._engine) as connection:
            await self._open_account(connection, debit.user_id)
            if not await self._record(connection, debit.idempotency_key, debit, "debit"):
                return
            moved = await connection.execute(
                update(credit_accounts)
                .where(
                    credit_accounts.c.user_id == debit.user_id,
                    credit_accounts.c.balance >= debit.amount,
                )
                .values(balance=credit_accounts.c.balance - debit.amount)
            )
            if moved.rowcount != 1:  # leaving the block by raising rolls the entry back
                raise CreditsDeclined(debit.user_id)

    async def refund(self, refund: Refund) -> None:
        async with transaction(self._engine) as connection:
            await self._open_account(connection, refund.user_id)
            if not await self._record(connection, refund.idempotency_key, refund, "refund"):
                return
            await connection.execute(
                update(credit_accounts)
                .where(credit_accounts.c.user_id == refund.user_id)
                .values(balance=credit_accounts.c.balance + refund.amount)
            )

    async def set_account(self, user_id: str, balance: Decimal, tier: SubscriptionTier) -> None:
        """Open or overwrite an account (development and tests)."""
        async with transaction(self._engine) as connection:
            await self._open_account(connection, user_id)
            await connection.execute(
                update(credit_accounts)
                .where(credit_accounts.c.user_id == user_id)
                .values(balance=balance, subscription_tier=str(tier))
            )

    async def _open_account(self, connection: AsyncConnection, user_id: str) -> None:
        values = {
            "user_id": user_id,
            "balance": self._starting_balance,
            "subscription_tier": str(self._starting_tier),
            "created_at": self._clock.now(),
        }
        await connection.execute(
            insert_ignoring_duplicates(credit_accounts, self._engine.dialect.name, values)
        )

    async def _record(
        self, connection: AsyncConnection, key: str, move: Debit | Refund, kind: str
    ) -> bool:
        """Insert the ledger entry; False when the key was seen before (nothing to do)."""
        values = {
            "idempotency_key": key,
            "user_id": move.user_id,
            "kind": kind,
            "amount": move.amount,
            "reference": move.reference,
            "reason": move.action_type if isinstance(move, Debit) else move.reason,
            "created_at": self._clock.now(),
        }
        statement = insert_ignoring_duplicates(
            credit_ledger_entries, self._engine.dialect.name, values
        )
        return (await connection.execute(statement)).rowcount == 1
