"""Fleet mode: one API key's rate budget and cache shared by several processes through Redis.

Needs the ``redis`` extra (``pip install 'lacale-async[redis]'``):

```python
from lacale_async import LaCaleClient
from lacale_async.fleet import RedisBackend

async with RedisBackend("redis://localhost:6379/0") as backend:
    async with LaCaleClient(api_key, backend=backend) as client:
        await client.search("dune")
```
"""

try:
    import redis.asyncio  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "lacale_async.fleet needs redis-py: pip install 'lacale-async[redis]'"
    ) from exc

from ._backend import RedisBackend
from ._cache import RedisCache
from ._failure import OnRedisError
from ._limiter import RedisLimiter
from ._quota import RedisLedger

__all__ = ["OnRedisError", "RedisBackend", "RedisCache", "RedisLedger", "RedisLimiter"]
