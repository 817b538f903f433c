"""Salesforce adapter: syncd's own OAuth login, simple-salesforce in direct mode, and
the REST calls the sync makes (SOQL, getUpdated / getDeleted, sObject Collections)."""

from syncd.salesforce.client import SalesforceClient, client_from_config
from syncd.salesforce.composite import RecordResult
from syncd.salesforce.errors import WindowMissed
from syncd.salesforce.http import build_session
from syncd.salesforce.login import (
    ClientCredentialsLogin,
    JwtBearerLogin,
    Login,
    SalesforceSession,
    login_from_config,
)
from syncd.salesforce.replication import DeletedRecord, DeletedResult
from syncd.salesforce.soql import soql
from syncd.salesforce.usage import ApiUsage

__all__ = [
    "ApiUsage",
    "ClientCredentialsLogin",
    "DeletedRecord",
    "DeletedResult",
    "JwtBearerLogin",
    "Login",
    "RecordResult",
    "SalesforceClient",
    "SalesforceSession",
    "WindowMissed",
    "build_session",
    "client_from_config",
    "login_from_config",
    "soql",
]
