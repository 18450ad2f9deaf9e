"""Settings read from CRM_* environment variables (adapter.settings)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest

from adapter.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No CRM_* variable from the caller's shell, and a scratch working directory."""
    for name in list(os.environ):
        if name.upper().startswith("CRM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_without_any_environment() -> None:
    settings = Settings()
    assert settings.data_dir == Path("var")
    assert (settings.log_level, settings.log_format, settings.sql_echo) == (
        "INFO",
        "console",
        False,
    )


def test_reads_crm_prefixed_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRM_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CRM_LOG_FORMAT", "json")
    monkeypatch.setenv("CRM_SQL_ECHO", "true")
    settings = Settings()
    assert settings.data_dir == tmp_path / "data"
    assert (settings.log_level, settings.log_format, settings.sql_echo) == ("DEBUG", "json", True)


def test_ignores_unprefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    settings = Settings()
    assert settings.log_level == "INFO"
    assert settings.database_url.startswith("sqlite:///")


def test_database_url_defaults_to_a_sqlite_file_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    expected = (tmp_path / "data" / "crm.sqlite3").resolve()
    assert Settings().database_url == f"sqlite:///{expected}"


def test_default_database_path_is_absolute_for_a_relative_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", "relative/dir")
    url = Settings().database_url
    assert url == f"sqlite:///{(tmp_path / 'relative' / 'dir' / 'crm.sqlite3').resolve()}"
    assert Path(url.removeprefix("sqlite:///")).is_absolute()


def test_explicit_database_url_wins_over_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRM_DATABASE_URL", "postgresql+psycopg://crm@db/crm")
    assert Settings().database_url == "postgresql+psycopg://crm@db/crm"


def test_empty_database_url_means_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRM_DATABASE_URL", "")
    assert Settings().database_url == f"sqlite:///{(tmp_path / 'var' / 'crm.sqlite3').resolve()}"


@pytest.mark.parametrize("fmt", ["text", "JSON", "xml"])
def test_log_format_other_than_console_or_json_is_refused(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("CRM_LOG_FORMAT", fmt)
    with pytest.raises(pydantic.ValidationError, match="log_format"):
        Settings()


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(pydantic.ValidationError):
        settings.log_level = "DEBUG"  # type: ignore[misc]


def test_ensure_data_dir_creates_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "a" / "b"
    monkeypatch.setenv("CRM_DATA_DIR", str(target))
    assert Settings().ensure_data_dir() == target
    assert target.is_dir()


def test_get_settings_reads_once_and_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_LOG_LEVEL", "WARNING")
    first = get_settings()
    monkeypatch.setenv("CRM_LOG_LEVEL", "ERROR")
    assert get_settings() is first
    assert first.log_level == "WARNING"


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_LOG_LEVEL", "warning")
    assert Settings().log_level == "WARNING"
