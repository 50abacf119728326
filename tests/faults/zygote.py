"""A fork server for daemons that are killed and restarted dozens of times per test.

``brandpulse run`` spends about a second importing scikit-learn, jieba and the rest and
reading jieba's IDF table before it does anything of its own; a kill -9 loop of fifty
restarts would spend most of its time there. The zygote is a process that has done that
once and forks a fresh daemon per restart: each child is a new process (own pid, own
sockets, own threads, a fresh random seed) that runs ``monitor.cli.main(["run", ...])`` from
the start, reading the config, opening and migrating the store, seeding the deduper and
loading cursors and the outbox as any restart does. Only imported code and the read-only
IDF table are inherited. SIGKILL ends a child exactly as it ends a daemon: no cleanup.

tests/acceptance/test_crash.py restarts a whole interpreter each time; this module lets
tests/faults/test_kill_loop.py afford fifty kills per database.

Protocol (one JSON object per line on stdin, one answer per line on stdout):
``{"spawn": [argv...], "log": path, "env": {...}}`` -> ``{"pid": n}``;
``{"reap": pid, "timeout": s}`` -> ``{"code": int | null}`` (null: still running);
``{"exit": true}``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _preload() -> None:
    import monitor.cli  # noqa: F401  (the CLI, the daemon and every package they import)
    import monitor.daemon  # noqa: F401
    from nlp.keywords import load_idf

    load_idf()


def _child(argv: list[str], log: str, env: dict[str, str]) -> None:
    """In the forked child: become a daemon writing to ``log``; never returns."""
    code = 70
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.environ.update(env)
        from monitor import cli

        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # pragma: no cover - reported in the child's log
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    _preload()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        req: dict[str, Any] = json.loads(line)
        if "spawn" in req:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(req["spawn"], req["log"], req.get("env") or {})
            print(json.dumps({"pid": pid}), flush=True)
        elif "reap" in req:
            deadline = time.monotonic() + float(req.get("timeout", 0))
            code: int | None = None
            while True:
                done, status = os.waitpid(int(req["reap"]), os.WNOHANG)
                if done:
                    code = os.waitstatus_to_exitcode(status)
                    break
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
            print(json.dumps({"code": code}), flush=True)
        elif req.get("exit"):
            return


class Zygote:
    """The test side: start the fork server once, spawn and reap daemons through it."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults.zygote"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self._read()
        if "ready" not in hello:
            raise RuntimeError(f"zygote did not start: {hello}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"zygote exited with {self.proc.wait()}")
        return json.loads(line)  # type: ignore[no-any-return]

    def _ask(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def spawn(self, argv: list[str], log: Path, env: dict[str, str]) -> int:
        return int(self._ask({"spawn": argv, "log": str(log), "env": env})["pid"])

    def reap(self, pid: int, timeout: float = 0.0) -> int | None:
        code = self._ask({"reap": pid, "timeout": timeout})["code"]
        return None if code is None else int(code)

    def kill(self, pid: int, sig: int = signal.SIGKILL) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self._ask({"exit": True})
            except (RuntimeError, BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ForkedDaemon:
    """``brandpulse run --config FILE`` forked from a :class:`Zygote`; the same interface as
    tests/acceptance/harness.py's DaemonProcess (start, kill9, stop, alive, text, wait_for_log)."""

    def __init__(self, zygote: Zygote, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.zygote, self.config, self.log, self.env = zygote, config, log, env or {}
        self.pid: int | None = None
        self.port: int | None = None
        self.returncode: int | None = None

    def start(self, timeout: float = 60, wait: bool = True) -> ForkedDaemon:
        self.pid = self.zygote.spawn(["run", "--config", str(self.config)], self.log, self.env)
        if wait:
            from tests.acceptance.harness import STARTED

            self.port = int(self.wait_for_log(STARTED, timeout).group(1))
        return self

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        if self.pid is None or self.returncode is not None:
            return False
        self.returncode = self.zygote.reap(self.pid)
        return self.returncode is None

    def wait_for_log(self, pattern: re.Pattern[str] | str, timeout: float) -> re.Match[str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text())
            if m is not None:
                return m
            if not self.alive():
                raise AssertionError(f"daemon exited with {self.returncode}:\n{self.text()[-3000:]}")
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {rx.pattern!r} in "
                                     f"{self.log.name}\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def kill9(self) -> None:
        """A crash: SIGKILL, no cleanup of any kind."""
        assert self.pid is not None
        self.zygote.kill(self.pid, signal.SIGKILL)
        self.returncode = self.zygote.reap(self.pid, timeout=30)

    def stop(self) -> int:
        """SIGTERM (clean stop), the exit code; SIGKILL and AssertionError after 30 s."""
        assert self.pid is not None
        if not self.alive():
            return self.returncode or 0
        self.zygote.kill(self.pid, signal.SIGTERM)
        self.returncode = self.zygote.reap(self.pid, timeout=30)
        if self.returncode is None:
            self.kill9()
            raise AssertionError(f"daemon ignored SIGTERM:\n{self.text()[-3000:]}")
        return self.returncode


if __name__ == "__main__":
    main()
