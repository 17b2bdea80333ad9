"""Settings: every one documented, empty means unset, a bad one is one clear line."""

import re
from pathlib import Path

import pytest

from creativeflow.services.aigeneration.core.config import (
    ConfigurationError,
    CreditBackend,
    JobTransport,
    Settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]


def setting_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias or name
        names.append(alias if isinstance(alias, str) else alias.choices[0])  # type: ignore[union-attr]
    return [str(n) for n in names]


def test_env_example_lists_every_setting_and_loads_as_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    assert set(setting_names()) <= listed
    (tmp_path / ".env").write_text(example)
    monkeypatch.chdir(tmp_path)
    assert load_settings().model_dump() == Settings(_env_file=None).model_dump()  # type: ignore[call-arg]


def test_the_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in setting_names() if name not in readme]
    assert missing == []


def test_a_malformed_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOX_BATCH_SIZE", "lots")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert str(error.value).startswith("configuration error: OUTBOX_BATCH_SIZE:")
    assert "\n" not in str(error.value)


def test_production_refuses_the_development_secrets() -> None:
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_settings(ENVIRONMENT="production")


def test_adapters_follow_what_is_configured() -> None:
    plain = load_settings(_env_file=None)
    assert plain.effective_job_transport is JobTransport.IN_PROCESS
    assert plain.effective_credit_backend is CreditBackend.LOCAL
    assert plain.effective_database_url.startswith("sqlite+aiosqlite:///")
    wired = load_settings(
        _env_file=None,
        RABBITMQ_HOST="mq",
        CREDIT_SERVICE_URL="http://credits",
        AIGEN_DB_HOST="db",
        AIGEN_DB_PASSWORD="p@ss",
    )
    assert wired.effective_rabbitmq_url == "amqp://guest:guest@mq:5672/%2F"
    assert wired.effective_job_transport is JobTransport.RABBITMQ
    assert wired.effective_credit_backend is CreditBackend.HTTP
    assert wired.effective_database_url == "postgresql+asyncpg://postgres:p%40ss@db:5432/aigen"
    assert load_settings(DATABASE_URL="postgresql://u@h/d").effective_database_url == (
        "postgresql+asyncpg://u@h/d"
    )


PRODUCTION_SECRETS = {
    "ENVIRONMENT": "production",
    "JWT_SECRET": "a-production-secret-of-enough-length-0123456789",
    "N8N_CALLBACK_SECRET": "whsec_cHJvZHVjdGlvbi1jYWxsYmFjay1zZWNyZXQtMDEyMzQ1Njc4OQ==",
    "OUTBOUND_WEBHOOK_SECRET": "whsec_cHJvZHVjdGlvbi13ZWJob29rLXNlY3JldC0wMTIzNDU2Nzg5MA==",
}
REAL_PARTS = {
    "DATABASE_URL": "postgresql://aigen@db/aigen",
    "RABBITMQ_URL": "amqp://aigen:pw@mq:5672/",
    "CREDIT_SERVICE_API_URL": "http://credits",
    "S3_BUCKET": "aigen-assets",
}
OPT_INS = {
    "DATABASE_URL": "sqlite+aiosqlite:///data/aigen.db",
    "RABBITMQ_URL": ("JOB_TRANSPORT", "in_process"),
    "CREDIT_SERVICE_API_URL": ("CREDIT_BACKEND", "local"),
    "S3_BUCKET": ("ASSET_STORAGE", "local"),
}


@pytest.mark.parametrize("missing", list(REAL_PARTS))
def test_production_names_the_embedded_part_nobody_chose(missing: str) -> None:
    settings = {**PRODUCTION_SECRETS, **REAL_PARTS}
    del settings[missing]
    with pytest.raises(ConfigurationError) as error:
        load_settings(_env_file=None, **settings)
    message = str(error.value)
    assert message.startswith("configuration error:") and "\n" not in message
    assert missing in message and "must be set outside development" in message


@pytest.mark.parametrize("missing", list(REAL_PARTS))
def test_production_runs_an_embedded_part_chosen_explicitly(missing: str) -> None:
    settings: dict[str, str] = {**PRODUCTION_SECRETS, **REAL_PARTS}
    del settings[missing]
    opt_in = OPT_INS[missing]
    name, value = opt_in if isinstance(opt_in, tuple) else (missing, opt_in)
    settings[name] = value
    assert load_settings(_env_file=None, **settings).environment == "production"


def test_production_with_every_real_part_starts() -> None:
    settings = load_settings(_env_file=None, **PRODUCTION_SECRETS, **REAL_PARTS)
    assert settings.effective_asset_storage == "s3"
