"""Configuration: one daemon file plus one TOML file per tenant.

Secrets never live in these files: a `SecretRef` names an environment
variable, a file, or a systemd credential (``LoadCredential=``).
Invalid configuration raises `ConfigError` naming the file, the key and the
problem, so the process fails at start with an actionable message.
"""

from __future__ import annotations

from syncd.config.base import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_PATH,
    ConfigError,
    SecretRef,
)
from syncd.config.loading import (
    LoadedConfig,
    load_config,
)
from syncd.config.settings import (
    ApiServerConfig,
    GraphTuning,
    MetricsServerConfig,
    OperatorConfig,
    ProcessRole,
    SandboxServerConfig,
    Settings,
)
from syncd.config.tenant import (
    DEFAULT_API_VERSION,
    ApiPolicy,
    EventFieldMapping,
    FieldMapping,
    HmacPolicy,
    LegacyLogin,
    MicrosoftConfig,
    Policy,
    SalesforceConfig,
    SalesforceLogin,
    SandboxTenantConfig,
    Schedules,
    SyncScope,
    TenantConfig,
    UserFieldMapping,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_API_VERSION",
    "DEFAULT_CONFIG_PATH",
    "ApiPolicy",
    "ApiServerConfig",
    "ConfigError",
    "EventFieldMapping",
    "FieldMapping",
    "GraphTuning",
    "HmacPolicy",
    "LegacyLogin",
    "LoadedConfig",
    "MetricsServerConfig",
    "MicrosoftConfig",
    "OperatorConfig",
    "Policy",
    "ProcessRole",
    "SalesforceConfig",
    "SalesforceLogin",
    "SandboxServerConfig",
    "SandboxTenantConfig",
    "Schedules",
    "SecretRef",
    "Settings",
    "SyncScope",
    "TenantConfig",
    "UserFieldMapping",
    "load_config",
]
