"""SandboxConfig: every field checked where the sandbox is configured, with the SDK's checks."""

from __future__ import annotations

import math

import pytest

from lacale_async import ConfigurationError, FakeClock, MonotonicClock
from lacale_async.testing import RateLimit, SandboxConfig

HUGE = 10**5000

BAD_FIELDS = [
    # A wrong type used to raise a raw TypeError or AttributeError from a comparison.
    ("seed", None),
    ("seed", "x"),
    ("seed", 1.5),
    ("seed", -1),
    pytest.param("seed", HUGE, id="seed-10**5000"),
    ("catalogue_size", None),
    ("catalogue_size", 1.5),
    ("catalogue_size", -1),
    pytest.param("catalogue_size", HUGE, id="catalogue_size-10**5000"),
    ("key_limits", None),
    ("key_limits", [RateLimit(1, 1)]),
    ("key_limits", {"search": (1, 1.0)}),
    ("key_limits", {5: RateLimit(1, 1)}),
    ("ip_limits", 5),
    ("ip_limits", {"serch": RateLimit(1, 1)}),
    pytest.param("rate_limit_mode", HUGE, id="rate_limit_mode-10**5000"),
    ("rate_limit_mode", "leaky"),
    # nan and inf were taken, then made every search a 500 (cache) or hang (latency).
    ("cache_ttl", None),
    ("cache_ttl", "30"),
    ("cache_ttl", math.nan),
    ("cache_ttl", math.inf),
    ("cache_ttl", -1),
    ("latency", math.inf),
    ("latency", math.nan),
    ("latency", True),
    ("latency", []),
    ("download_token_ttl", math.inf),
    ("download_token_ttl", 1e300),
    ("download_token_ttl", 0),
    ("download_token_ttl", "3600"),
    ("cache_headers", "no"),
    ("quirks", 1),
    ("trust_forwarded_for", None),
    ("require_nfo", "yes"),
    ("api_key", 123),
    ("api_key", b"key"),
    ("api_key", "\ud800"),
    ("api_key", "  "),
    ("clock", None),
    ("clock", FakeClock),
    ("clock", object()),
    pytest.param("profile", HUGE, id="profile-10**5000"),
    ("profile", "prod"),
    ("key_budget", 5),
    ("key_budget", "RateLimit"),
    ("key_budget", [(1, 1.0)]),
    ("link_origin", 5),
    ("link_origin", "http://\ud800"),
    ("wall_clock", 1_767_225_600.0),
]


@pytest.mark.parametrize(("name", "bad"), BAD_FIELDS)
def test_a_bad_field_is_a_configuration_error_naming_it(name: str, bad: object) -> None:
    with pytest.raises(ConfigurationError, match=name) as info:
        SandboxConfig(**{name: bad})  # type: ignore[arg-type]
    assert len(str(info.value)) < 300


def test_the_accepted_values_are_unchanged() -> None:
    config = SandboxConfig(
        seed=2**64 - 1,
        catalogue_size=0,
        key_limits={},
        ip_limits={"search": RateLimit(5, 2)},
        rate_limit_mode="fixed",
        cache_ttl=0,
        latency=0.25,
        download_token_ttl=1,
        cache_headers=False,
        api_key="sandbox-key",
        clock=FakeClock(),
        profile="docs",
        key_budget=(),
        require_nfo=True,
        link_origin="http://localhost:3000",
        wall_clock=lambda: 0.0,
    )
    assert config.key_budget_limits == ()
    assert isinstance(SandboxConfig().clock, MonotonicClock)
    assert SandboxConfig(key_budget=[RateLimit(6, 1.0)]).key_budget_limits == (RateLimit(6, 1.0),)
