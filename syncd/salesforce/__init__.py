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
    jwt_audience,
    login_from_config,
)
from syncd.salesforce.org_shape import FULL_SHAPE, OrgShape, read_shape
from syncd.salesforce.replication import DeletedRecord, DeletedResult
from syncd.salesforce.soql import soql
from syncd.salesforce.usage import ApiUsage
from syncd.salesforce.values import sf_datetime

__all__ = [
    "FULL_SHAPE",
    "ApiUsage",
    "ClientCredentialsLogin",
    "DeletedRecord",
    "DeletedResult",
    "JwtBearerLogin",
    "Login",
    "OrgShape",
    "RecordResult",
    "SalesforceClient",
    "SalesforceSession",
    "WindowMissed",
    "build_session",
    "client_from_config",
    "jwt_audience",
    "login_from_config",
    "read_shape",
    "sf_datetime",
    "soql",
]
