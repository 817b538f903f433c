"""The daemon's file (`syncd.toml`): state store, API server, Graph tuning, operator
credential, sandbox and metrics endpoints; environment variables override it."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from syncd.config.base import SecretRef, _Strict


class ApiServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_days: int = Field(default=90, ge=1, le=3650)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
        '(addresses or networks, e.g. "10.0.0.5" or "10.1.0.0/16"); none = the peer '
        "address is the caller's",
    )
    # What slow or idle clients may hold (syncd.api.slow_clients).
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="a request head must arrive within this"
    )
    max_connections: int = Field(
        default=1000, ge=1, le=100_000, description="open connections, idle ones shed first"
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, le=300, description="an idle keep-alive connection is closed after this"
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, le=1_048_576, description="a larger request head answers 400"
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError('list the proxies, e.g. ["10.0.0.5", "10.1.0.0/16"]')
        try:
            return tuple(ip_network(str(item), strict=False) for item in value)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"each trusted proxy must be an IP address or network (no '*'): {exc}"
            ) from None


#: Which faces a process serves: `syncd run` and `syncd reconcile` sync ("daemon"),
#: `syncd serve` answers the Scheduler API ("api"), `syncd run --api` does both.
ProcessRole = Literal["daemon", "api", "daemon+api"]


class GraphTuning(_Strict):
    """Timeouts, retries, and each process's share of a mailbox's concurrent requests.

    Outlook allows 4 concurrent requests per app and mailbox, "evaluated for each app ID
    and mailbox combination" whichever process sends them
    (https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits): the
    sync and every API process of a tenant's app share them, so each takes a fixed share
    and the shares must add up to at most `max_in_flight_per_mailbox`.
    """

    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    max_in_flight_per_mailbox: int = Field(
        default=4, ge=1, le=4, description="concurrent requests per mailbox, all processes"
    )
    daemon_in_flight_per_mailbox: int = Field(
        default=3, ge=1, le=4, description="the sync's share (syncd run / syncd reconcile)"
    )
    api_in_flight_per_mailbox: int = Field(
        default=1, ge=1, le=4, description="each Scheduler API process's share"
    )
    api_processes: int = Field(
        default=1,
        ge=0,
        le=4,
        description="processes serving the Scheduler API with the same apps, on every "
        "machine (syncd serve, syncd run --api)",
    )
    max_retries: int = Field(default=5, ge=0, le=20)
    max_retry_wait_seconds: float = Field(default=120.0, ge=0)

    @model_validator(mode="after")
    def _shares_fit(self) -> GraphTuning:
        daemon, api = self.daemon_in_flight_per_mailbox, self.api_in_flight_per_mailbox
        used = daemon + self.api_processes * api
        if used > self.max_in_flight_per_mailbox:
            raise ValueError(
                f"daemon_in_flight_per_mailbox ({daemon}) + api_processes "
                f"({self.api_processes}) x api_in_flight_per_mailbox ({api}) = {used} is "
                f"more than max_in_flight_per_mailbox ({self.max_in_flight_per_mailbox}): "
                "Outlook allows 4 concurrent requests per app and mailbox, shared by every "
                "process (https://learn.microsoft.com/graph/throttling-limits"
                "#outlook-service-limits); lower a share or the number of API processes"
            )
        return self

    def in_flight_for(self, role: ProcessRole) -> int:
        """The requests per mailbox one process of `role` may have in flight."""
        if role == "daemon":
            return self.daemon_in_flight_per_mailbox
        if role == "api":
            return self.api_in_flight_per_mailbox
        return self.daemon_in_flight_per_mailbox + self.api_in_flight_per_mailbox


class OperatorConfig(_Strict):
    """The operator credential of /status and /metrics (never an API client's)."""

    token: SecretRef | None = Field(
        default=None,
        description="operator token (at least 32 characters); none = /status and /metrics are off",
    )
    session_hours: int = Field(default=8, ge=1, le=168)


class SandboxServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    start: AwareDatetime | None = Field(
        default=None,
        description="the built-in sandbox's clock starts at this instant (with its UTC "
        "offset) and runs from there, and syncd's own clock with it: the demo org's "
        "meetings, and what a pass prints, are the same on any day; none = the real time",
    )


class MetricsServerConfig(_Strict):
    """`[metrics]`: where `syncd run` (without --api) serves /metrics; port 0 = off."""

    port: int = Field(default=9464, ge=0, le=65535)
    bind: str = "127.0.0.1"


class ScaleConfig(_Strict):
    """How one tenant's work spreads over several daemon replicas (docs/scaling-out.md)."""

    mailbox_shards: int = Field(
        default=1,
        ge=1,
        le=256,
        description="shards each tenant's mailboxes are hashed into, each under a lease of "
        "its own; 1 = a tenant runs on one replica",
    )
    drain_seconds: float = Field(
        default=2.0,
        ge=0.2,
        le=300,
        description="how often a shard's holder finishes the writes claimed for its mailboxes",
    )


class Settings(BaseSettings):
    """The daemon file (`config/syncd.toml`); env vars SYNCD_* override it."""

    model_config = SettingsConfigDict(
        env_prefix="SYNCD_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; none = SQLite in state_dir"
    )
    tenants_dir: Path = Path("tenants")
    state_dir: Path = Path("state")
    master_key: SecretRef | None = Field(
        default=None,
        description="key that signs tokens and derives HMAC secrets; none = generated in state_dir",
    )
    log_level: str = "INFO"
    log_format: Literal["plain", "json"] = Field(
        default="plain", description="plain text lines, or one JSON object a line"
    )
    api: ApiServerConfig = ApiServerConfig()
    metrics: MetricsServerConfig = MetricsServerConfig()
    graph: GraphTuning = GraphTuning()
    sandbox: SandboxServerConfig = SandboxServerConfig()
    operator: OperatorConfig = OperatorConfig()
    scale: ScaleConfig = ScaleConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file so a unit can override one key.
        return (env_settings, init_settings)
