"""The Scheduler API (FastAPI): five contract endpoints, /oauth/token, /healthz, offline docs."""

from syncd.api.app import create_app

__all__ = ["create_app"]
