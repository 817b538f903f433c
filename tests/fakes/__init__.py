"""In-memory stand-ins for syncd's Graph and Salesforce ports, and one world factory.

`MemoryGraph` and `MemorySalesforce` answer the calls syncd makes with the same return
shapes and the same `SyncdError` codes as the real clients; tests/contract holds them
to exactly the same tests as the sandbox reached over HTTPS. They make the sync logic
testable in milliseconds; the wire stays covered by the sandbox and e2e suites.
"""

from tests.fakes.faults import Call, Faults
from tests.fakes.graph import MemoryGraph
from tests.fakes.salesforce import MemorySalesforce
from tests.fakes.world import FakeWorld, build_world

__all__ = ["Call", "FakeWorld", "Faults", "MemoryGraph", "MemorySalesforce", "build_world"]
