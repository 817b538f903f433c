"""A tenant's file: its Microsoft 365 app, its Salesforce org, scope, field mapping,
schedules and policies."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from syncd.config.base import SecretRef, _Strict
from syncd.scope_filter import filter_problem


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
    outlook_changes: Literal["two_way", "salesforce_wins", "report"] = Field(
        default="two_way",
        description="what a change made in Outlook to a synced meeting does: 'two_way' "
        "writes it to the Salesforce Event, 'salesforce_wins' puts Outlook back, 'report' "
        "only records it (history and the Event's sync status)",
    )
    outlook_deletion: Literal["mark", "delete_event"] = Field(
        default="mark",
        description="under two_way, what a meeting deleted or cancelled in Outlook does to "
        "its Event: 'mark' writes the status only, 'delete_event' also deletes the Event",
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
    # A quiet mailbox's sweep is one delta request in a $batch of 20, so a sweep may run
    # about as often as the poll; below 10 s the sweeps of a large tenant would overlap.
    outlook_seconds: int | None = Field(
        default=None,
        ge=10,
        description="seconds between sweeps of Outlook (changes and answers); "
        "none = responses_seconds",
    )
    availability_seconds: int = Field(default=3600, ge=60)
    retry_failed_seconds: int = Field(default=600, ge=30)
    availability_horizon_days: int = Field(default=14, ge=1, le=61)

    @property
    def sweep_seconds(self) -> int:
        """The Outlook sweep's interval (it carries the response refresh)."""
        return self.outlook_seconds or self.responses_seconds


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
