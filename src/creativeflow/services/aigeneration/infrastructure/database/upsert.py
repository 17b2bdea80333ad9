from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignoring_duplicates(table: Table, dialect_name: str, values: dict[str, Any]) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING on both of our dialects."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    return sqlite.insert(table).values(values).on_conflict_do_nothing()
