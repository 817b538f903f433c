"""Checks that need no network: every secret reference resolves, secret files are private.

Shared by `syncd doctor` and `syncd config check` (which runs only these): the
configuration can parse and still name a secret nobody can read, and that used to
surface only when the daemon started. Values are read to prove they resolve and
are never shown.
"""

from __future__ import annotations

import os
import stat

from syncd.config import ConfigError, LoadedConfig, SecretRef, TenantConfig
from syncd.doctor.report import CONFIGURATION, Check, failed, passed


def secret_refs(config: LoadedConfig, tenant: TenantConfig) -> list[tuple[str, SecretRef]]:
    """(setting, reference) of every secret the tenant uses, the shared master key first."""
    found: list[tuple[str, SecretRef | None]] = [("master_key", config.settings.master_key)]
    if tenant.microsoft is not None:
        found.append(("[microsoft] client_secret", tenant.microsoft.client_secret))
        found.append(("[microsoft] certificate_key", tenant.microsoft.certificate_key))
    login = tenant.salesforce.login
    if login is not None:
        found.append(("[salesforce.login] private_key", login.private_key))
        found.append(("[salesforce.login] client_secret", login.client_secret))
    legacy = tenant.api.legacy_login
    if legacy.enabled:
        found.append(("[api.legacy_login] password", legacy.password))
    return [(setting, ref) for setting, ref in found if ref is not None]


def _fix(setting: str, ref: SecretRef) -> str:
    if ref.env:
        return (
            f"set the environment variable {ref.env} for syncd (e.g. EnvironmentFile= in the "
            f"systemd unit), or point {setting} at where the secret is"
        )
    if ref.credential:
        return (
            f"add LoadCredential={ref.credential}:/path/to/secret to the systemd unit, or point "
            f"{setting} at where the secret is"
        )
    return (
        f"create {ref.file} holding the secret, owned by syncd's user with mode 600 "
        f"(chmod 600 {ref.file}), or point {setting} at the right file"
    )


def secret_checks(config: LoadedConfig, tenant: TenantConfig) -> list[Check]:
    """One check per secret (it resolves) and one per secret file (only syncd may read it)."""
    checks = []
    for setting, ref in secret_refs(config, tenant):
        name = f"secret {setting}"
        try:
            ref.read()
        except ConfigError as exc:
            checks.append(failed(CONFIGURATION, name, str(exc), _fix(setting, ref)))
            continue
        checks.append(passed(CONFIGURATION, name, f"resolves ({ref.describe()})"))
        if ref.file is not None:
            checks.append(_file_mode(setting, ref))
    return checks


def _file_mode(setting: str, ref: SecretRef) -> Check:
    assert ref.file is not None
    name = f"secret file mode {setting}"
    try:
        mode = stat.S_IMODE(os.stat(ref.file).st_mode)
    except OSError as exc:
        return failed(CONFIGURATION, name, f"cannot stat {ref.file}: {exc.strerror}", "")
    if mode & 0o077:
        return failed(
            CONFIGURATION,
            name,
            f"{ref.file} has mode {mode:04o}: group or others may read or change it",
            f"chmod 600 {ref.file} (and chown it to syncd's user)",
        )
    return passed(CONFIGURATION, name, f"{ref.file} is private (mode {mode:04o})")


def offline_checks(config: LoadedConfig, names: list[str]) -> dict[str, list[Check]]:
    """Tenant name -> its configuration checks."""
    return {name: secret_checks(config, config.tenant(name)) for name in names}
