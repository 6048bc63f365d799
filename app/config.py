"""Settings, read from the environment (and a `.env` file when present)."""

from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, Field, PostgresDsn
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DatabaseSettings(BaseModel):
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    pool_timeout_seconds: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)


class PaginationSettings(BaseModel):
    default_limit: int = Field(default=50, ge=1, le=500)
    max_limit: int = Field(default=500, ge=1, le=500)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="APP_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    env: Environment = Environment.development
    # DATABASE_URL is the conventional name, so it is read without the APP_ prefix.
    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql+asyncpg://postgres@127.0.0.1:5432/cadre"),
        validation_alias="DATABASE_URL",
    )
    database: DatabaseSettings = DatabaseSettings()
    pagination: PaginationSettings = PaginationSettings()
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def async_database_url(self) -> str:
        """The URL with the asyncpg driver, whatever scheme the operator wrote."""
        url = str(self.database_url)
        scheme, rest = url.split("://", 1)
        return f"postgresql+asyncpg://{rest}" if scheme in {"postgres", "postgresql"} else url


@lru_cache
def get_settings() -> Settings:
    return Settings()
