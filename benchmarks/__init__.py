"""Benchmarks for lacale_async, each measured against baselines run in the same process and run.

Run them all with ``python -m benchmarks`` (``--quick`` for a smoke run); results go to
``benchmarks/RESULTS.md`` and ``benchmarks/limiter.png``. Every bench module is importable and
exposes ``run(quick: bool) -> Section`` plus a ``main()`` for running it alone.
"""
