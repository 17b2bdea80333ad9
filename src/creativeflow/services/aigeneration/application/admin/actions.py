"""Who acts, and why: every operator's action names both, and goes to the audit log in the
transaction of its effect (contract §8)."""

from dataclasses import dataclass

from ..ports import AuditEntry


@dataclass(frozen=True)
class AdminAction:
    """Who acts, and why: every admin action names both (they go to the audit log)."""

    actor: str
    reason: str
    correlation_id: str | None = None

    def entry(self, action: str, target: str, **details: str) -> AuditEntry:
        return AuditEntry(self.actor, action, target, self.reason, self.correlation_id, details)
