"""A faithful La Cale API sandbox on 127.0.0.1, for tests and offline development.

::

    from lacale_async.testing import Fault, SandboxConfig, SandboxServer

    async with SandboxServer(SandboxConfig(seed=1)) as sandbox:
        sandbox.faults.add(Fault.cloudflare(521), endpoint="search")
        ...  # point a client at sandbox.base_url with sandbox.api_key

It serves both documented API versions (``X-Api-Key``, ``?apikey=``, the legacy ``?passkey=``),
a seeded catalogue of real .torrent files, the ~30 s search cache, per-key and per-IP rate
limits, and injectable faults. pytest users get the ``lacale_sandbox`` and ``lacale_client``
fixtures from :mod:`lacale_async.testing.pytest_plugin`.
"""

from __future__ import annotations

from ._catalogue import Catalogue, CatalogueTorrent
from ._config import ENDPOINTS, UPLOAD_LIMIT, SandboxConfig
from ._faults import Fault, FaultInjector
from ._ratelimit import RateLimit
from ._records import RecordedRequest, UploadRecord
from ._search import normalise
from ._server import SandboxServer, run_sandbox, serve_sandbox

__all__ = [
    "ENDPOINTS",
    "UPLOAD_LIMIT",
    "Catalogue",
    "CatalogueTorrent",
    "Fault",
    "FaultInjector",
    "RateLimit",
    "RecordedRequest",
    "SandboxConfig",
    "SandboxServer",
    "UploadRecord",
    "normalise",
    "run_sandbox",
    "serve_sandbox",
]
