"""The C memory allocator ``sovkg serve`` runs on: the C library's, or tcmalloc or jemalloc.

pyoxigraph allocates and frees many small blocks for every query (its parser, the evaluator
it builds for each one, the solutions). With the C library's malloc that cost a query worker
about a fifth of its instructions for a point lookup, and a GROUP BY over the whole store ran
its engine part 20-30 % slower than with tcmalloc (``benchmarks/RESULTS.md``). An allocator
can only be chosen when a process starts, so ``sovkg serve`` starts itself again, once, with
the library in ``LD_PRELOAD``: the server processes and every worker (forked, or spawned with
the same environment) then allocate with it.

``--allocator`` (``SOVKG_ALLOCATOR``): ``auto`` (the default) takes tcmalloc, else jemalloc,
else the system's, whichever is installed; ``tcmalloc`` or ``jemalloc`` asks for one and
refuses to start without it (the message names the Debian package); ``system`` keeps the C
library's malloc. Only Linux is supported; elsewhere ``auto`` means the system's.

tcmalloc keeps freed memory for reuse, and a server that loaded 10^7 quads held 1.20x one copy
of the data at start on it, 1.56x at worst (against 1.08x and 1.38x on the C library's malloc).
So it runs with ``TCMALLOC_AGGRESSIVE_DECOMMIT=true`` unless the environment says otherwise:
freed spans go back to the system at once. That measured 1.09x at start and 1.22-1.28x at
worst, at the same speed (``benchmarks/scale/SERVE.md``, ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from sovkg.config import SettingsError


@dataclass(frozen=True)
class Allocator:
    """A preloadable allocator: its name, the library's name for ``find_library``, the
    Debian package that installs it, and the settings it runs with (environment variables the
    library reads, given unless the environment has them already)."""

    name: str
    library: str
    package: str
    tuning: tuple[tuple[str, str], ...] = ()


#: the allocators that are preloaded, in the order ``auto`` prefers them (tcmalloc measured
#: faster than jemalloc here); ``sovkg.config.ALLOCATORS`` adds ``auto`` and ``system``
PRELOADABLE = (
    Allocator(
        "tcmalloc",
        "tcmalloc_minimal",
        "libtcmalloc-minimal4",
        (("TCMALLOC_AGGRESSIVE_DECOMMIT", "true"),),  # freed spans back to the system at once
    ),
    Allocator("jemalloc", "jemalloc", "libjemalloc2"),
)
#: set in the environment of the process started again, so that it never starts a third
RESTARTED_ENV = "SOVKG_ALLOCATOR_RESTARTED"


@dataclass(frozen=True)
class Choice:
    """What to run on: an allocator and its library file, or None for the system's; ``note``
    says which, for the start-up line."""

    allocator: Allocator | None
    path: str | None
    note: str


def choose(
    setting: str,
    find: Callable[[str], str | None] = ctypes.util.find_library,
    platform: str = sys.platform,
) -> Choice:
    """The allocator ``setting`` asks for; raises :class:`SettingsError` when it names one
    that is not installed."""
    if setting == "system":
        return Choice(None, None, "the system's malloc")
    wanted = [a for a in PRELOADABLE if setting in ("auto", a.name)]
    if platform != "linux":
        if setting != "auto":
            raise SettingsError(f"--allocator {setting} (SOVKG_ALLOCATOR) works on Linux only")
        return Choice(None, None, "the system's malloc (not Linux)")
    for allocator in wanted:
        path = find(allocator.library)
        if path:
            return Choice(allocator, path, f"{allocator.name} ({path})")
    if setting != "auto":
        allocator = wanted[0]
        raise SettingsError(
            f"--allocator {setting} (SOVKG_ALLOCATOR) needs lib{allocator.library}: "
            f"apt-get install {allocator.package}"
        )
    return Choice(None, None, "the system's malloc (auto: neither tcmalloc nor jemalloc found)")


def mapped(allocator: Allocator, maps: str = "/proc/self/maps") -> bool:
    """Whether this process has the allocator's library loaded."""
    try:
        with open(maps) as f:
            return any(f"lib{allocator.library}" in line for line in f)
    except OSError:
        return False


def restart_args(argv: list[str]) -> list[str]:
    """The command line that starts this ``sovkg`` again with the same arguments."""
    flags = ["-P"] if sys.flags.safe_path else []  # how the console script and tests start it
    return [sys.executable, *flags, "-m", "sovkg", *argv]


def ensure(choice: Choice, argv: list[str]) -> str:
    """Run on ``choice``: start this command again with its library preloaded when it is not
    loaded yet (this call then does not return); the start-up line's note otherwise."""
    restarted = os.environ.pop(RESTARTED_ENV, None)  # read once: children never see it
    if choice.allocator is None or choice.path is None:
        return choice.note
    if mapped(choice.allocator):
        return choice.note
    if restarted:  # preloaded, yet not loaded: the loader refused it
        return f"the system's malloc ({choice.path} could not be preloaded)"
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [choice.path, env.get("LD_PRELOAD", "")]))
    for name, value in choice.allocator.tuning:
        env.setdefault(name, value)
    env[RESTARTED_ENV] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, restart_args(argv), env)
    raise AssertionError("unreachable")  # pragma: no cover - execve does not return
