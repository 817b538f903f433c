"""The base of the configuration models: its error, strictness, and secret references
(a `SecretRef` names an environment variable, a file or a systemd credential)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from syncd.domain import ErrorCode, SyncdError
from syncd.secret_files import credential_name_problem, credential_path, warn_if_shared

_M = TypeVar("_M", bound=BaseModel)

DEFAULT_CONFIG_PATH = Path("config/syncd.toml")
CONFIG_ENV_VAR = "SYNCD_CONFIG"


class ConfigError(SyncdError):
    """Configuration that cannot be used; the message names file, key and problem."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Strict):
    """Where a secret is read from: exactly one of env, file, credential."""

    env: str | None = None
    file: Path | None = None
    credential: str | None = Field(
        default=None, description="name of a systemd credential (LoadCredential=)"
    )

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "a secret is never written in the configuration: name where to read it, "
                'e.g. { env = "VAR" }, { file = "/path" } or { credential = "name" }'
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("env", "file", "credential") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("name exactly one of 'env', 'file' or 'credential'")
        if self.credential is not None:
            problem = credential_name_problem(self.credential)
            if problem is not None:
                raise ValueError(problem)
        return self

    def describe(self) -> str:
        if self.env:
            return f"environment variable {self.env}"
        if self.file:
            return f"file {self.file}"
        return f"systemd credential {self.credential}"

    def read(self) -> str:
        """Return the secret's value; raise ConfigError naming where it was looked for."""
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"secret not set: {self.describe()} is empty or missing")
            return value
        path = self.file
        if self.credential:
            directory = os.environ.get("CREDENTIALS_DIRECTORY")
            if not directory:
                raise ConfigError(
                    f"{self.describe()}: CREDENTIALS_DIRECTORY is not set "
                    "(run under systemd with LoadCredential=)"
                )
            try:
                path = credential_path(directory, self.credential)
            except ValueError as exc:
                raise ConfigError(f"{self.describe()}: {exc}") from None
        assert path is not None
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read {self.describe()}: {exc.strerror}") from exc
        if self.file:
            warn_if_shared(path)  # systemd sets the modes of credentials itself
        return value
