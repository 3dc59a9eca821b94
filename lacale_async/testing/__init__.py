"""A faithful La Cale API sandbox on 127.0.0.1, for tests and offline development.

```python
from lacale_async.testing import Fault, SandboxConfig, SandboxServer

async with SandboxServer(SandboxConfig(seed=1)) as sandbox:
    sandbox.faults.add(Fault.cloudflare(521), endpoint="search")
    ...  # point a client at sandbox.base_url with sandbox.api_key
```

Its default ``live`` profile answers the way the live tracker was recorded to in 2026 (its
taxonomy, ``downloadLink`` tokens, 401 for a wrong key, no search without a query, the key-wide
daily budget...); ``SandboxConfig(profile="docs")`` follows the documentation instead. Both serve
both documented API versions (``X-Api-Key``, ``?apikey=``, the legacy ``?passkey=``), a seeded
catalogue of real .torrent files, the ~30 s search cache, per-key and per-IP rate limits, and
injectable faults. pytest users get the ``lacale_sandbox`` and ``lacale_client``
fixtures from `lacale_async.testing.pytest_plugin`.
"""

from __future__ import annotations

from ._catalogue import Catalogue, CatalogueTorrent
from ._config import ENDPOINTS, LIVE_KEY_BUDGET, UPLOAD_LIMIT, SandboxConfig, client_key_rate
from ._faults import Fault, FaultInjector
from ._ratelimit import RateLimit
from ._records import RecordedRequest, UploadRecord
from ._search import normalise
from ._server import SandboxServer, run_sandbox, serve_sandbox
from ._taxonomy import Profile

__all__ = [
    "ENDPOINTS",
    "LIVE_KEY_BUDGET",
    "UPLOAD_LIMIT",
    "Catalogue",
    "CatalogueTorrent",
    "Fault",
    "FaultInjector",
    "Profile",
    "RateLimit",
    "RecordedRequest",
    "SandboxConfig",
    "SandboxServer",
    "UploadRecord",
    "client_key_rate",
    "normalise",
    "run_sandbox",
    "serve_sandbox",
]
