"""Composition root: builds engines and other collaborators from settings, on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from adapter.settings import Settings, get_settings
from adapter.store.database import make_engine

if TYPE_CHECKING:
    from adapter.legacy import Gateway


@dataclass
class Container:
    settings: Settings = field(default_factory=get_settings)
    _engine: Engine | None = None
    _gateway: Gateway | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.settings.database_url.startswith("sqlite"):
                self.settings.ensure_data_dir()
            # SQL echo goes through logging (configured by the caller), not a handler of its own.
            self._engine = make_engine(self.settings.database_url)
        return self._engine

    @property
    def gateway(self) -> Gateway:
        """The billing gateway (zeep client, WSDL parsed once), built on first use."""
        if self._gateway is None:
            from adapter.legacy import build_gateway

            self._gateway = build_gateway(self.settings)
        return self._gateway

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
