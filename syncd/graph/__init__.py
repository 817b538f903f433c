"""Microsoft Graph client: app-only tokens, calendar calls, free/busy, $batch."""

from syncd.graph.auth import MsalTokenProvider, TokenProvider, token_provider_from_config
from syncd.graph.client import GraphClient, GraphRequest, GraphResponse
from syncd.graph.counter import CallCounter
from syncd.graph.http import build_session

__all__ = [
    "CallCounter",
    "GraphClient",
    "GraphRequest",
    "GraphResponse",
    "MsalTokenProvider",
    "TokenProvider",
    "build_session",
    "token_provider_from_config",
]
