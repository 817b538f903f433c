"""Configuration: one daemon file plus one TOML file per tenant.

Secrets never live in these files: a `SecretRef` names an environment
variable, a file, or a systemd credential (``LoadCredential=``).
Invalid configuration raises `ConfigError` naming the file, the key and the
problem, so the process fails at start with an actionable message.
"""

from __future__ import annotations

import os
import tomllib
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from syncd.domain import ErrorCode, SyncdError
from syncd.scope_filter import filter_problem
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


class MicrosoftConfig(_Strict):
    """The Entra (Azure AD) app syncd uses to call Graph for this tenant."""

    tenant_id: str
    client_id: str
    client_secret: SecretRef | None = None
    certificate_key: SecretRef | None = Field(
        default=None, description="PEM private key of the app certificate"
    )
    certificate_thumbprint: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: Path | None = Field(default=None, description="extra CA bundle to trust")

    @model_validator(mode="after")
    def _one_credential(self) -> MicrosoftConfig:
        if bool(self.client_secret) == bool(self.certificate_key):
            raise ValueError("give either 'client_secret' or 'certificate_key', not both or none")
        if self.certificate_key and not self.certificate_thumbprint:
            raise ValueError("'certificate_key' needs 'certificate_thumbprint'")
        return self


class SandboxTenantConfig(_Strict):
    """How a `provider = "sandbox"` tenant reaches the built-in sandbox."""

    seed: int = 42
    users: int = Field(default=25, ge=1, le=200_000)
    salesforce_events: int = Field(
        default=60, ge=0, le=1_000_000, description="demo Events in the sandbox Salesforce org"
    )
    connection_file: Path | None = Field(
        default=None,
        description="connection.json of a running `syncd sandbox`; none = start one in-process",
    )
    shared_activities: bool = Field(
        default=True,
        description="the sandbox org has Shared Activities (EventRelation.IsInvitee); "
        "false plays an org without it",
    )
    integration_user_email: str | None = Field(
        default=None,
        description="the e-mail of the org's integration user; none = one in the tenant's "
        "first mail domain (without a mailbox)",
    )


class HmacPolicy(_Strict):
    enabled: bool = True
    max_skew_seconds: int = Field(default=300, ge=5, le=3600)


class LegacyLogin(_Strict):
    """HTTP Basic for one administrator; off unless turned on."""

    enabled: bool = False
    username: str = "admin"
    password: SecretRef | None = None

    @model_validator(mode="after")
    def _password_when_enabled(self) -> LegacyLogin:
        if self.enabled and self.password is None:
            raise ValueError("legacy login is enabled but 'password' names no secret")
        return self


class ApiPolicy(_Strict):
    oauth: bool = True
    hmac: HmacPolicy = HmacPolicy()
    legacy_login: LegacyLogin = LegacyLogin()


class Policy(_Strict):
    teams_keyword: str = "MS Teams"
    cancel_comment: str = "This meeting has been cancelled."
    delete_without_attendees: bool = True
    unavailable_statuses: tuple[str, ...] = ("busy", "oof", "tentative", "workingElsewhere")
    availability_max_graph_requests: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="Graph requests one availability call may make (retries of throttled "
        "requests aside); a larger request is refused",
    )
    missing_mailbox_ttl_seconds: int = Field(
        default=600,
        ge=0,
        le=86_400,
        description="how long an address Graph says has no mailbox is answered without "
        "asking Graph again (0: never remembered)",
    )

    @field_validator("unavailable_statuses")
    @classmethod
    def _known_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown statuses {unknown}; use some of {sorted(known)}")
        return value


#: The REST API version syncd calls by default: Winter '26, the first whose Event
#: carries ActivityRecurrence2Id (the link between a Lightning series and its occurrences).
DEFAULT_API_VERSION = "65.0"


class SalesforceLogin(_Strict):
    """How syncd logs in to the org: OAuth JWT bearer or client credentials."""

    login_url: str = "https://login.salesforce.com"
    flow: Literal["jwt_bearer", "client_credentials"] = "jwt_bearer"
    client_id: str
    username: str | None = Field(default=None, description="the integration user (JWT 'sub')")
    private_key: SecretRef | None = Field(default=None, description="PEM key for JWT bearer")
    client_secret: SecretRef | None = None
    audience: str | None = Field(
        default=None,
        description="JWT 'aud': https://login.salesforce.com, https://test.salesforce.com or "
        "an Experience Cloud site URL; none = derived from login_url",
    )
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^\d{2}\.\d$")
    ca_file: Path | None = Field(default=None, description="extra CA bundle to trust")

    @model_validator(mode="after")
    def _flow_needs(self) -> SalesforceLogin:
        if self.flow == "jwt_bearer" and not (self.username and self.private_key):
            raise ValueError("flow 'jwt_bearer' needs 'username' and 'private_key'")
        if self.flow == "client_credentials" and not self.client_secret:
            raise ValueError("flow 'client_credentials' needs 'client_secret'")
        if self.audience is not None and not self.audience.startswith("https://"):
            raise ValueError(f"'audience' must be an https URL, not {self.audience!r}")
        return self


class SyncScope(_Strict):
    """Which Events are synced."""

    days_past: int = Field(default=7, ge=0, le=365)
    days_future: int = Field(default=180, ge=1, le=730)
    extra_filter: str | None = Field(
        default=None, description="extra SOQL condition, e.g. \"Type = 'Meeting'\""
    )

    @field_validator("extra_filter")
    @classmethod
    def _one_condition(cls, value: str | None) -> str | None:
        problem = filter_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(f"{problem} (`syncd config check --salesforce` asks the org)")
        return value


_API_NAME = r"^$|^[A-Za-z][A-Za-z0-9_]{0,79}$"


class EventFieldMapping(_Strict):
    """Event fields syncd writes back; an empty name means "do not write"."""

    outlook_event_id: str = Field(default="Outlook_Event_Id__c", pattern=_API_NAME)
    sync_status: str = Field(default="Sync_Status__c", pattern=_API_NAME)
    sync_error: str = Field(default="Sync_Error__c", pattern=_API_NAME)
    teams_join_url: str = Field(default="Teams_Join_Url__c", pattern=_API_NAME)
    synced_at: str = Field(default="Synced_At__c", pattern=_API_NAME)
    responses_summary: str = Field(default="Responses_Summary__c", pattern=_API_NAME)


class UserFieldMapping(_Strict):
    availability_snapshot: str = Field(default="Availability_Snapshot__c", pattern=_API_NAME)


class FieldMapping(_Strict):
    event: EventFieldMapping = EventFieldMapping()
    user: UserFieldMapping = UserFieldMapping()
    #: also write EventRelation Status / RespondedDate from Outlook responses. Off unless
    #: the operator turns it on: whether an integration user may set other users' answers
    #: is not documented (check it on the org first); the summary field carries them anyway
    event_relation_status: bool = False


class Schedules(_Strict):
    """Seconds between runs of each daemon job."""

    poll_seconds: int = Field(default=60, ge=5)
    responses_seconds: int = Field(default=300, ge=30)
    availability_seconds: int = Field(default=3600, ge=60)
    retry_failed_seconds: int = Field(default=600, ge=30)
    availability_horizon_days: int = Field(default=14, ge=1, le=61)


class SalesforceConfig(_Strict):
    login: SalesforceLogin | None = Field(
        default=None, description="required when the org is 'login'"
    )
    org: Literal["login", "sandbox"] | None = Field(
        default=None,
        description="'login': the org [salesforce.login] logs in to; 'sandbox': the built-in "
        "sandbox's; none = 'sandbox' for a provider = 'sandbox' tenant, else 'login'",
    )
    scope: SyncScope = SyncScope()
    fields: FieldMapping = FieldMapping()
    schedules: Schedules = Schedules()


class TenantConfig(_Strict):
    """One Salesforce org + one Microsoft tenant."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    provider: Literal["microsoft", "sandbox"] = "microsoft"
    mail_domains: tuple[str, ...] = Field(min_length=1)
    microsoft: MicrosoftConfig | None = None
    sandbox: SandboxTenantConfig = SandboxTenantConfig()
    api: ApiPolicy = ApiPolicy()
    policy: Policy = Policy()
    salesforce: SalesforceConfig = SalesforceConfig()
    #: addresses as callers send them -> the mailbox they stand for (e.g. an old
    #: address kept by another system); applied to every address a request names
    address_aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("mail_domains")
    @classmethod
    def _lower_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().lower().lstrip("@") for d in value)

    @field_validator("address_aliases")
    @classmethod
    def _aliases_name_addresses(cls, value: dict[str, str]) -> dict[str, str]:
        for alias, address in value.items():
            local, _, domain = address.partition("@")
            if not local or not domain or "@" in domain or any(c.isspace() for c in address):
                raise ValueError(f"alias '{alias}' must map to an e-mail address, not '{address}'")
        return value

    @model_validator(mode="after")
    def _microsoft_for_real_tenants(self) -> TenantConfig:
        if self.provider == "microsoft" and self.microsoft is None:
            raise ValueError("a tenant with provider = 'microsoft' needs a [microsoft] table")
        if self.salesforce_org == "login" and self.salesforce.login is None:
            raise ValueError(
                "a tenant with provider = 'microsoft' needs a [salesforce.login] table"
                if self.salesforce.org is None
                else "salesforce.org = 'login' needs a [salesforce.login] table"
            )
        if (
            self.salesforce_org == "sandbox"
            and self.provider != "sandbox"
            and self.sandbox.connection_file is None
        ):
            raise ValueError(
                "salesforce.org = 'sandbox' with provider = 'microsoft' needs "
                "[sandbox] connection_file (the file a running `syncd sandbox` writes)"
            )
        return self

    @property
    def salesforce_org(self) -> Literal["login", "sandbox"]:
        """Where the tenant's Salesforce org is ([salesforce] org, else by provider)."""
        return self.salesforce.org or ("sandbox" if self.provider == "sandbox" else "login")

    def is_in_org(self, email: str) -> bool:
        return email.rsplit("@", 1)[-1].lower() in self.mail_domains


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


class MetricsServerConfig(_Strict):
    """`[metrics]`: where `syncd run` (without --api) serves /metrics; port 0 = off."""

    port: int = Field(default=9464, ge=0, le=65535)
    bind: str = "127.0.0.1"


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
