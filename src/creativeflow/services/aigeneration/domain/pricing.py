"""What each action costs, per subscription tier (REQ-014, REQ-016)."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .formats import Resolution


class SubscriptionTier(StrEnum):
    FREE = "free"
    PRO = "pro"
    TEAM = "team"
    ENTERPRISE = "enterprise"

    @classmethod
    def parse(cls, value: str | None) -> "SubscriptionTier":
        """An unknown or missing tier is priced as free: never give away what was not bought."""
        try:
            return cls((value or "").strip().lower())
        except ValueError:
            return cls.FREE

    @property
    def is_paid(self) -> bool:
        return self is not SubscriptionTier.FREE


@dataclass(frozen=True)
class PriceList:
    sample_round_free: Decimal = Decimal("0.25")
    sample_round_paid: Decimal = Decimal("0")
    final_standard_free: Decimal = Decimal("1")
    final_standard_paid: Decimal = Decimal("0")
    final_high_free: Decimal = Decimal("2")
    final_high_paid: Decimal = Decimal("2")

    def sample_round(self, tier: SubscriptionTier) -> Decimal:
        return self.sample_round_paid if tier.is_paid else self.sample_round_free

    def final(self, tier: SubscriptionTier, resolution: Resolution) -> Decimal:
        if resolution is Resolution.HIGH:
            return self.final_high_paid if tier.is_paid else self.final_high_free
        return self.final_standard_paid if tier.is_paid else self.final_standard_free
