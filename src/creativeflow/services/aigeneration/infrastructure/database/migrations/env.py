from alembic import context

from creativeflow.services.aigeneration.infrastructure.database.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always run through migrate.upgrade_to_head
    raise SystemExit("run migrations with `aigen migrate`")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
