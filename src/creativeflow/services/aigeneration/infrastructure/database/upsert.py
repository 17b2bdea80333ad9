from functools import cache

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite


@cache
def insert_ignoring_duplicates(table: Table, dialect_name: str) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING on both of our dialects, built once per table: run it
    with the row as the execute() parameters."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
