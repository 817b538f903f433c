"""Loading the configuration: the daemon file, then each tenant file, every problem
reported with the file and key that caused it."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from syncd.config.base import _M, CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH, ConfigError
from syncd.config.settings import Settings
from syncd.config.tenant import TenantConfig


class LoadedConfig(BaseModel):
    """Daemon settings plus tenants, with relative paths resolved."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    settings: Settings
    tenants: dict[str, TenantConfig]

    def tenant(self, name: str) -> TenantConfig:
        try:
            return self.tenants[name]
        except KeyError:
            known = ", ".join(sorted(self.tenants)) or "none"
            raise ConfigError(f"unknown tenant '{name}' (configured: {known})") from None

    @property
    def database_url(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        return f"sqlite:///{self.settings.state_dir / 'syncd.db'}"


def _format_validation(path: Path, error: ValidationError, env_prefix: str | None = None) -> str:
    """One line per invalid key; with `env_prefix` (the daemon file) a value that came from
    an environment variable names that variable, not the file it overrides."""
    lines: list[str] = []
    from_file = False
    environment = {name.upper() for name in os.environ}
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        variable = f"{env_prefix}{'__'.join(str(p) for p in item['loc'])}".upper()
        if env_prefix and item["loc"] and variable in environment:
            lines.append(f"  environment variable {variable} (overrides key '{key}'): {message}")
        else:
            lines.append(f"  key '{key}': {message}")
            from_file = True
    where = f"in {path}" if from_file else f"in the environment (overriding {path})"
    return "\n".join([f"invalid configuration {where}:", *lines])


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from exc


def _resolve(base: Path, value: Path) -> Path:
    return value if value.is_absolute() else (base / value).resolve()


def _anchored(model: _M, base: Path) -> _M:
    """`model` with every relative Path in it (nested tables too) resolved against `base`,
    the directory of the file it was read from (not the working directory)."""
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path) and not value.is_absolute():
            updates[name] = _resolve(base, value)
        elif isinstance(value, BaseModel):
            anchored = _anchored(value, base)
            if anchored is not value:
                updates[name] = anchored
    return model.model_copy(update=updates) if updates else model


def load_config(path: Path | None = None) -> LoadedConfig:
    """Load the daemon file and every `tenants/*.toml` beside it."""
    path = Path(path or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)
    raw = _read_toml(path)
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc, env_prefix="SYNCD_")) from exc
    settings = _anchored(settings, path.parent)  # tenants_dir, state_dir, master_key
    tenants: dict[str, TenantConfig] = {}
    tenant_files = sorted(settings.tenants_dir.glob("*.toml"))
    if not tenant_files:
        raise ConfigError(f"no tenant files (*.toml) in {settings.tenants_dir}")
    for tenant_file in tenant_files:
        data = _read_toml(tenant_file)
        data.setdefault("name", tenant_file.stem)
        try:
            tenant = _anchored(TenantConfig.model_validate(data), tenant_file.parent)
        except ValidationError as exc:
            raise ConfigError(_format_validation(tenant_file, exc)) from exc
        if tenant.name in tenants:
            raise ConfigError(f"{tenant_file}: tenant name '{tenant.name}' is used twice")
        tenants[tenant.name] = tenant
    return LoadedConfig(path=path, settings=settings, tenants=tenants)
