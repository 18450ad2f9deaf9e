"""The one settings object, read once from ``CRM_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
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
