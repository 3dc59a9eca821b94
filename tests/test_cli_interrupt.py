"""Ctrl-C: exit 130 and one line, never a traceback, from the first instant to the last."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# The console script as pip installs it, or the same entry point through -c.
_SCRIPT = Path(sys.executable).with_name("lacale")
_ENTRY = (
    [str(_SCRIPT)]
    if _SCRIPT.exists()
    else [sys.executable, "-c", "import _lacale_async_cli as m, sys; m.main()"]
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LACALE_")}
    env["LACALE_CACHE_DIR"] = os.environ["LACALE_CACHE_DIR"]
    return env


@contextlib.contextmanager
def _lacale(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """Run ``lacale ARGS`` (stdin left open); killed on the way out if still running."""
    proc = subprocess.Popen(
        [*_ENTRY, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()


def _interpreter_start_up() -> float:
    """Seconds before any code of ours can run: the interpreter, its site, the script's imports.

    Nothing can catch a Ctrl-C that lands there (Python prints its own traceback), so the
    moments below are counted from its end. Measured now, because a loaded machine (CI, other
    suites) stretches it from tens of milliseconds to a few hundred.
    """
    runs = []
    for _ in range(5):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import re, sys"], check=True, env=_env())
        runs.append(time.monotonic() - started)
    # Twice the slowest of five: one start in a few hundred ran 1.5 times the slowest of three
    # (CI, 2026-12-04: the Ctrl-C landed in the launcher's own `import re`).
    return 2.0 * max(runs)


@pytest.mark.parametrize("after", [0.0, 0.1, 0.2, 0.35, 0.5, 0.8, 1.5])
def test_ctrl_c_at_any_moment_of_start_up_exits_130_quietly(after: float) -> None:
    # `bulk -` waits on stdin once started, so every delay lands in start-up or in the wait:
    # imports (the first half second), click, the sandbox starting, the read.
    start_up = _interpreter_start_up()
    with _lacale(["--sandbox", "bulk", "-"]) as proc:
        time.sleep(start_up + after)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"


def test_ctrl_c_stops_the_sandbox_server_with_130() -> None:
    with _lacale(["sandbox", "--port", "0"]) as proc:
        assert proc.stdout is not None
        while not proc.stdout.readline().startswith("export "):
            assert proc.poll() is None, "the sandbox exited before serving"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == "sandbox stopped"


def test_ctrl_c_while_click_dispatches_exits_130_not_click_aborted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression: a SIGINT landing in click's own code (parsing, dispatch: outside any
    # command's handler) met click's standalone mode, which printed "Aborted!" and exited 1.
    from lacale_async._cli import main
    from lacale_async._cli._commands import cli

    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.commands["search"], "callback", interrupt)
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "dune"])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err
    assert "Aborted" not in err
    assert err.strip().splitlines()[-1] == "interrupted"


def test_usage_errors_still_exit_2_with_clicks_message(capsys: pytest.CaptureFixture[str]) -> None:
    from lacale_async._cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--no-such-option"])
    assert exit_info.value.code == 2
    assert "No such option" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal mask (Windows)")
def test_ctrl_c_during_the_package_import_waits_for_its_end_then_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Regression: a KeyboardInterrupt raised inside a C extension's import-time work (msgspec
    # building a decoder) crashed the interpreter with SIGSEGV about once in 150 start-ups.
    import importlib.abc
    import importlib.machinery
    import types

    import _lacale_async_cli

    finished: list[bool] = []

    class SlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(
            self, name: str, path: object, target: object = None
        ) -> importlib.machinery.ModuleSpec | None:
            if name != "lacale_async._cli":
                return None
            return importlib.machinery.ModuleSpec(name, self)

        def create_module(self, spec: object) -> None:
            return None

        def exec_module(self, module: types.ModuleType) -> None:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C typed while the package loads
            finished.append(True)  # not reached if the interrupt was not held back
            module.main = lambda: None  # type: ignore[attr-defined]

    import lacale_async

    monkeypatch.delitem(sys.modules, "lacale_async._cli", raising=False)
    monkeypatch.delattr(lacale_async, "_cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [SlowImport(), *sys.meta_path])
    with pytest.raises(SystemExit) as exit_info:
        _lacale_async_cli.main()
    assert exit_info.value.code == 130
    assert finished == [True]
    assert capsys.readouterr().err == "interrupted\n"
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
