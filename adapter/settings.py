"""The one settings object, read once from ``CRM_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Folder for embedded-default files")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means a SQLite file in data_dir"
    )
    log_level: str = Field(
        default="INFO",
        pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
        description="DEBUG, INFO, WARNING, ERROR or CRITICAL",
    )
    log_format: str = Field(default="console", pattern=r"^(console|json)$")
    sql_echo: bool = False

    # The legacy billing system (or the bundled simulator, which accepts the same defaults).
    billing_url: str = Field(
        default="http://127.0.0.1:8088/ws/cil",
        description="Address of the billing system's CIL service (the WSDL itself is local)",
    )
    billing_user: str = Field(default="crm-adapter", min_length=1, max_length=64)
    billing_password: SecretStr = Field(default=SecretStr("crm-adapter-secret"))
    billing_business_unit: str = Field(default="1", pattern=r"^[A-Za-z0-9_]{1,16}$")
    billing_timeout: float = Field(
        default=10.0, gt=0, le=300, description="Seconds allowed for one call, connect included"
    )
    billing_retries: int = Field(
        default=3, ge=0, le=10, description="Further attempts after a transient failure"
    )
    billing_backoff: float = Field(
        default=0.5, ge=0, le=60, description="First retry delay in seconds (doubles, jittered)"
    )
    billing_breaker_failures: int = Field(
        default=5, ge=1, le=1000, description="Consecutive failures that open the breaker"
    )
    billing_breaker_reset: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds an open breaker waits before a trial"
    )
    redis_url: str = Field(
        default="", description="Redis URL; when set, state shared between workers lives there"
    )

    # Celery workers (workers/config.py derives the Celery configuration from these).
    broker_url: str = Field(
        default="",
        description="Celery broker URL (redis://…, amqp://…); empty means the embedded "
        "filesystem broker in data_dir/broker, for one host only",
    )
    result_backend: str = Field(
        default="",
        description="Celery result backend URL; empty means the broker's Redis, rpc:// for "
        "AMQP, or a SQLite file in data_dir for the embedded broker",
    )
    broker_key_prefix: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.:-]{0,64}$",
        description="Prefix of every Redis key the broker and result backend use, to share "
        "one Redis database between several adapters (or test runs)",
    )
    worker_concurrency: int = Field(
        default=0, ge=0, le=256, description="Pool processes per worker; 0 means one per CPU"
    )
    task_time_limit: float = Field(
        default=300.0,
        ge=1,
        le=86_400,
        description="Seconds a task may run before its pool process is killed (the soft "
        "limit, which raises inside the task, is 90% of it)",
    )
    task_retry_ceiling: float = Field(
        default=600.0,
        ge=1,
        le=86_400,
        description="Longest countdown, in seconds, before a task's retry",
    )

    sync_backoff: float = Field(
        default=5.0,
        gt=0,
        le=3_600,
        description="Seconds before the first retry of an outbox message billing could not "
        "take (doubled per attempt, with jitter)",
    )
    sync_backoff_cap: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="Longest wait, in seconds, before an outbox message is tried again",
    )
    sync_sweep_interval: float = Field(
        default=10.0,
        gt=0,
        le=3_600,
        description="Seconds between two sweeps of the outbox for customers with messages due "
        "(beat's crm.sync.sweep)",
    )
    sync_lease: float = Field(
        default=600.0,
        ge=1,
        le=86_400,
        description="Seconds a drain holds a customer's lease before another drain may take "
        "it over (renewed at every message; longer than one billing call with its retries)",
    )
    resume_received_after: float = Field(
        default=120.0,
        ge=1,
        le=86_400,
        description="Seconds a request or a billing notification may stay received before "
        "beat's crm.requests.sweep / crm.events.sweep sends it to the workers again (its "
        "message was lost, e.g. with a broker restarted without persistence)",
    )

    # Reconciliation with billing (adapter/reconcile/, beat's crm.reconcile.run).
    reconcile_interval: float = Field(
        default=3_600.0,
        ge=0,
        le=7 * 86_400,
        description="Seconds between two reconciliation runs (beat's crm.reconcile.run); 0 "
        "takes the task out of the schedule",
    )
    reconcile_batch: int = Field(
        default=200,
        ge=0,
        le=100_000,
        description="Customers compared with billing per reconciliation run, round robin; 0 "
        "takes the task out of the schedule",
    )

    # The billing push endpoint (adapter/notifications/): billing authenticates with these
    # (WS-Security UsernameToken, PasswordText); the defaults match the simulator's.
    notify_user: str = Field(default="billing", min_length=1, max_length=64)
    notify_password: SecretStr = Field(default=SecretStr("billing-notify-secret"))
    notify_max_body_bytes: int = Field(
        default=4 * 1_048_576,
        ge=1_024,
        le=64 * 1_048_576,
        description="Largest notification body accepted (a usage batch is the big one); a "
        "larger one is refused with HTTP 413 and a SOAP fault",
    )
    notify_enqueue: bool = Field(
        default=True,
        description="Send crm.events.apply for every newly stored notification (off: the "
        "events wait as received until applied by another path)",
    )

    # The CRM HTTP API (adapter/api/, docs/api.md).
    api_max_body: int = Field(
        default=1_048_576,
        ge=1_024,
        le=64 * 1_048_576,
        description="Largest request body the API accepts, in bytes; a larger one is refused "
        "with HTTP 413 before it is read",
    )
    api_enqueue_sync: bool = Field(
        default=True,
        description="After an API write commits, send crm.sync.drain for its customer (off: "
        "the outbox waits for beat's sweep or `crm-adapter sync drain`)",
    )

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "crm.sqlite3").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{path}")
        return self

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment the first time they are asked for."""
    return Settings()
