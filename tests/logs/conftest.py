"""The logs tests run `syncd reconcile` against a sandbox of their own (see
tests/metrics/conftest.py)."""

from tests.metrics.conftest import process_world

__all__ = ["process_world"]
