"""What a simulator instance is started with; built by the CLI, by tests or by the demo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapter.settings import Settings, get_settings

STATE_FILE = "billing-sim.sqlite3"
MAX_BODY_BYTES = 1_048_576  # 1 MiB, the same cap adapter.xmlsafe applies by default


@dataclass(frozen=True)
class SimConfig:
    """One simulator: where its state lives, whom it lets in, and its limits.

    ``users`` maps user name to password (PasswordText); ``business_units`` are the BU_ID values
    accepted. ``public_url`` overrides the address written into the served WSDL (by default
    the scheme and Host of the request that asks for it). ``max_hang_seconds`` bounds every
    injected hang so that a forgotten rule cannot hold a connection for ever.
    """

    data_dir: Path
    users: Mapping[str, str] = field(default_factory=dict)
    business_units: frozenset[str] = frozenset({"1"})
    faults_file: Path | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    max_hang_seconds: float = 300.0
    public_url: str | None = None
    validate_responses: bool = True
    usage_records_per_contract: int = 24

    def __post_init__(self) -> None:
        if not self.users:
            raise ValueError("the simulator needs at least one user")
        if not self.business_units:
            raise ValueError("the simulator needs at least one business unit")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes below 1024 would refuse every real request")
        if not 0 <= self.usage_records_per_contract <= 1000:
            raise ValueError("usage_records_per_contract must be 0..1000")

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> SimConfig:
        """The defaults the adapter itself uses (``CRM_BILLING_*``), so that an adapter and a
        simulator started with no options at all talk to each other."""
        settings = settings or get_settings()
        values: dict[str, Any] = {
            "data_dir": settings.data_dir,
            "users": {settings.billing_user: settings.billing_password.get_secret_value()},
            "business_units": frozenset({settings.billing_business_unit}),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
