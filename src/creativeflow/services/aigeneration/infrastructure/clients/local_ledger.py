"""The embedded credit backend: accounts and idempotent ledger entries in our own database.

Each money move inserts its ledger entry (primary key = the idempotency key) and moves the
balance in one transaction: a repeated key inserts nothing and moves nothing. `LedgerBook`
does this on a given connection, so the unit of work can charge inside the request's own
transaction (one commit instead of the saga's three); `LocalLedger` is the CreditGateway
that runs each move in a transaction of its own (refunds, the saga path)."""

from decimal import Decimal

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ...application.errors import CreditsDeclined
from ...application.ports import Clock, CreditAccount, Debit, Refund
from ...domain.pricing import SubscriptionTier
from ..database.errors import transaction
from ..database.runners import Runner, SqlaRunner
from ..database.tables import credit_accounts as accounts
from ..database.tables import credit_ledger_entries as entries
from ..database.upsert import insert_ignoring_duplicates

_ACCOUNT = select(accounts).where(accounts.c.user_id == bindparam("user"))
_TAKE = (
    update(accounts)
    .where(accounts.c.user_id == bindparam("user"), accounts.c.balance >= bindparam("amount"))
    .values(balance=accounts.c.balance - bindparam("amount"))
)
_GIVE = (
    update(accounts)
    .where(accounts.c.user_id == bindparam("user"))
    .values(balance=accounts.c.balance + bindparam("amount"))
)


class LedgerBook:
    def __init__(
        self,
        run: Runner,
        clock: Clock,
        starting_balance: Decimal,
        starting_tier: SubscriptionTier = SubscriptionTier.FREE,
    ) -> None:
        self._run = run
        self._clock = clock
        self._starting_balance = starting_balance
        self._starting_tier = starting_tier

    async def get_account(self, user_id: str) -> CreditAccount:
        # a read writes nothing: a user's account is opened by their first money move (a
        # refused request leaves no trace), and until then it is the starting one
        row = await self._run.first(_ACCOUNT, {"user": user_id})
        if row is None:
            return CreditAccount(self._starting_balance, self._starting_tier)
        return CreditAccount(row.balance, SubscriptionTier.parse(row.subscription_tier))

    async def debit(self, debit: Debit) -> None:
        if not await self._record(debit.idempotency_key, debit, "debit"):
            return
        take = {"user": debit.user_id, "amount": debit.amount}
        moved = await self._run.execute(_TAKE, take)
        # nothing taken: the balance is short, or there is no account yet (opened here, or by a
        # concurrent first call this one waited for) — then taken again
        if moved != 1:
            await self.open_account(debit.user_id)
            moved = await self._run.execute(_TAKE, take)
        if moved != 1:  # the caller's transaction rolls the entry back with it
            raise CreditsDeclined(debit.user_id)

    async def refund(self, refund: Refund) -> None:
        await self.open_account(refund.user_id)
        if await self._record(refund.idempotency_key, refund, "refund"):
            await self._run.execute(_GIVE, {"user": refund.user_id, "amount": refund.amount})

    async def grant(self, user_id: str, amount: Decimal, key: str, reason: str) -> None:
        """Credits given by an operator: a ledger entry of its own kind, once per key."""
        await self.open_account(user_id)
        move = Refund(user_id, amount, "grant", reason, key)
        if await self._record(key, move, "grant"):
            await self._run.execute(_GIVE, {"user": user_id, "amount": amount})

    async def set_account(self, user_id: str, balance: Decimal, tier: SubscriptionTier) -> None:
        await self.open_account(user_id)
        await self._run.execute(
            update(accounts)
            .where(accounts.c.user_id == user_id)
            .values(balance=balance, subscription_tier=str(tier))
        )

    async def open_account(self, user_id: str) -> None:
        values = {
            "user_id": user_id,
            "balance": self._starting_balance,
            "subscription_tier": str(self._starting_tier),
            "created_at": self._clock.now(),
        }
        dialect = self._run.dialect_name
        await self._run.execute(insert_ignoring_duplicates(accounts, dialect), values)

    async def _record(self, key: str, move: Debit | Refund, kind: str) -> bool:
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
        dialect = self._run.dialect_name
        return await self._run.execute(insert_ignoring_duplicates(entries, dialect), values) == 1


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

    def book(self, run: Runner) -> LedgerBook:
        return LedgerBook(run, self._clock, self._starting_balance, self._starting_tier)

    async def get_account(self, user_id: str) -> CreditAccount:
        async with transaction(self._engine) as connection:
            return await self.book(SqlaRunner(connection)).get_account(user_id)

    async def debit(self, debit: Debit) -> None:
        async with transaction(self._engine) as connection:
            await self.book(SqlaRunner(connection)).debit(debit)

    async def refund(self, refund: Refund) -> None:
        async with transaction(self._engine) as connection:
            await self.book(SqlaRunner(connection)).refund(refund)

    async def grant(self, user_id: str, amount: Decimal, key: str, reason: str) -> None:
        async with transaction(self._engine) as connection:
            await self.book(SqlaRunner(connection)).grant(user_id, amount, key, reason)

    async def set_account(self, user_id: str, balance: Decimal, tier: SubscriptionTier) -> None:
        """Open or overwrite an account (development and tests)."""
        async with transaction(self._engine) as connection:
            await self.book(SqlaRunner(connection)).set_account(user_id, balance, tier)
