"""The `requests.Session` every outbound call goes through (Graph, the identity platform,
Salesforce): one place for trust, pooling and the User-Agent, below both ports."""

from __future__ import annotations

from pathlib import Path

import certifi
import requests
from requests.adapters import HTTPAdapter

from syncd import __version__

#: Connections kept per host: one session serves the daemon's jobs side by side (the
#: poll's 32 executor threads, availability's 32 getSchedule groups, the response
#: refresh) and the API's threads, so the pool covers the first two together; a
#: smaller pool drops connections it just opened ("Connection pool is full").
POOL_MAXSIZE = 64


def build_session(ca_file: Path | None = None) -> requests.Session:
    """A session that trusts `ca_file` (else certifi's bundle) and nothing from the environment.

    `trust_env = False` because REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, when set,
    override `Session.verify` and would silently replace the CA chosen here;
    it also keeps proxy variables and ~/.netrc from leaking into Graph calls.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file) if ca_file else certifi.where()
    session.headers["User-Agent"] = f"syncd/{__version__}"
    # Retries are ours (Retry-After aware), so the adapter must not retry too.
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
