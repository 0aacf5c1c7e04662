"""`hub up`: run each service as its own process, prefix and colour their logs, stop them cleanly.

A process that dies unexpectedly is restarted (with back-off): on one machine the supervisor plays
the part a process manager plays in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta"]


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    restart: bool = True
    pass_fds: tuple[int, ...] = ()  # listening sockets the process serves on (hubcli/ports.py)


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], console: Console | None = None) -> None:
        self.specs = specs
        self.console = console or Console(highlight=False)
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = asyncio.Event()
        self.width = max(len(s.name) for s in specs)

    def _say(self, name: str, line: str, colour: str) -> None:
        text = Text(f"{name:<{self.width}} │ ", style=colour)
        text.append(line)
        self.console.print(text, soft_wrap=True)

    async def _run_one(self, spec: ProcessSpec, colour: str) -> None:
        delay = 1.0
        while not self.stopping.is_set():
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                env={**os.environ, **spec.env},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
                pass_fds=spec.pass_fds,
            )
            self.procs[spec.name] = proc
            assert proc.stdout is not None
            async for raw in proc.stdout:
                self._say(spec.name, raw.decode("utf-8", "replace").rstrip(), colour)
            code = await proc.wait()
            if self.stopping.is_set() or not spec.restart:
                return
            self._say(spec.name, f"exited with {code}; restarting in {delay:.0f}s", "bold red")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        tasks = [
            asyncio.create_task(self._run_one(spec, COLOURS[i % len(COLOURS)]))
            for i, spec in enumerate(self.specs)
        ]
        await self.stopping.wait()
        self.console.print("[bold]stopping…[/bold]")
        await self.terminate()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def terminate(self, grace_s: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                await asyncio.wait_for(proc.wait(), timeout=grace_s)
            except TimeoutError:
                self._say(name, "did not stop in time; killing", "bold red")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()


def python_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "hubcli.main", *args]
