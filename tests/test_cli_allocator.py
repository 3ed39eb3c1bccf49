"""The allocator ``sovkg serve`` runs on (``--allocator``): the choice, and the real server
started again on tcmalloc (``.ci/run`` installs Debian's libtcmalloc-minimal4)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from sovkg.cli.allocator import RESTARTED_ENV, choose, ensure, mapped, restart_args
from sovkg.config import Settings, SettingsError

from tests.support.procs import descendants, query_workers
from tests.support.server import LiveServer, run_sovkg

TCMALLOC = "libtcmalloc_minimal.so.4"


def _finder(*installed: str):  # type: ignore[no-untyped-def]
    return lambda name: f"lib{name}.so" if name in installed else None


def test_auto_prefers_tcmalloc_then_jemalloc_then_the_system() -> None:
    both = choose("auto", find=_finder("tcmalloc_minimal", "jemalloc"), platform="linux")
    assert both.allocator is not None and both.allocator.name == "tcmalloc"
    assert both.path == "libtcmalloc_minimal.so"
    je = choose("auto", find=_finder("jemalloc"), platform="linux")
    assert je.allocator is not None and je.allocator.name == "jemalloc"
    none = choose("auto", find=_finder(), platform="linux")
    assert none.allocator is None and none.path is None
    assert none.note == "the system's malloc (auto: neither tcmalloc nor jemalloc found)"


def test_an_allocator_asked_for_by_name_must_be_installed() -> None:
    with pytest.raises(SettingsError) as e:
        choose("jemalloc", find=_finder("tcmalloc_minimal"), platform="linux")
    assert str(e.value) == (
        "--allocator jemalloc (SOVKG_ALLOCATOR) needs libjemalloc: apt-get install libjemalloc2"
    )
    tc = choose("tcmalloc", find=_finder("tcmalloc_minimal", "jemalloc"), platform="linux")
    assert tc.allocator is not None and tc.allocator.name == "tcmalloc"


def test_system_and_other_platforms_keep_the_c_library_malloc() -> None:
    assert choose("system", find=_finder("tcmalloc_minimal"), platform="linux").path is None
    assert choose("auto", find=_finder("tcmalloc_minimal"), platform="darwin").path is None
    with pytest.raises(SettingsError, match="Linux only"):
        choose("tcmalloc", find=_finder("tcmalloc_minimal"), platform="darwin")


def test_the_setting_is_checked_like_every_other() -> None:
    assert Settings.from_env(env={}).allocator == "auto"
    assert Settings.from_env(env={"SOVKG_ALLOCATOR": "system"}).allocator == "system"
    with pytest.raises(SettingsError, match="must be one of auto, tcmalloc, jemalloc, system"):
        Settings.from_env(env={"SOVKG_ALLOCATOR": "glibc"})
    r = run_sovkg("serve", "--allocator", "glibc")
    assert r.returncode == 2
    assert b"--allocator" in r.stderr and b"Traceback" not in r.stderr


def test_loaded_is_read_from_the_process_maps(tmp_path: Path) -> None:
    choice = choose("tcmalloc", find=_finder("tcmalloc_minimal"), platform="linux")
    assert choice.allocator is not None
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f10 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert not mapped(choice.allocator, str(maps))
    maps.write_text(f"7f00-7f10 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/{TCMALLOC}\n")
    assert mapped(choice.allocator, str(maps))
    assert not mapped(choice.allocator, str(tmp_path / "missing"))


def test_it_starts_again_with_the_same_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    assert restart_args(["serve", "--port", "9"])[-3:] == ["serve", "--port", "9"]
    assert restart_args([])[0] == sys.executable
    # a process that was started again and still lacks the library does not loop
    choice = choose(
        "tcmalloc", find=lambda name: "/nowhere/libtcmalloc_minimal.so", platform="linux"
    )
    monkeypatch.setenv(RESTARTED_ENV, "1")
    note = ensure(choice, ["serve"])
    assert note == "the system's malloc (/nowhere/libtcmalloc_minimal.so could not be preloaded)"


def test_tcmalloc_returns_freed_memory_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The restart preloads the library and gives tcmalloc its tuning, without overriding a
    value the environment has."""
    started: list[dict[str, str]] = []

    def execve(path: str, args: list[str], env: dict[str, str]) -> None:
        started.append(env)
        raise SystemExit(0)

    monkeypatch.setattr("sovkg.cli.allocator.os.execve", execve)
    monkeypatch.delenv(RESTARTED_ENV, raising=False)
    monkeypatch.delenv("TCMALLOC_AGGRESSIVE_DECOMMIT", raising=False)
    choice = choose("tcmalloc", find=lambda name: "/x/libtcmalloc_minimal.so.4", platform="linux")
    with pytest.raises(SystemExit):
        ensure(choice, ["serve"])
    assert started[-1]["LD_PRELOAD"].startswith("/x/libtcmalloc_minimal.so.4")
    assert started[-1]["TCMALLOC_AGGRESSIVE_DECOMMIT"] == "true"
    assert started[-1][RESTARTED_ENV] == "1"
    monkeypatch.setenv("TCMALLOC_AGGRESSIVE_DECOMMIT", "false")
    with pytest.raises(SystemExit):
        ensure(choice, ["serve"])
    assert started[-1]["TCMALLOC_AGGRESSIVE_DECOMMIT"] == "false"


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _serve_and_look(*args: str) -> tuple[str, list[str], list[bytes]]:
    """Start a real server, query it, and give its start-up line and each process's maps
    and environment."""
    server = LiveServer("--no-access-log", "--no-validate", *args)
    try:
        server.wait_ready()
        r = httpx.get(f"{server.url}/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=60)
        assert r.status_code == 200 and r.json()["boolean"] is True
        procs = [server.proc.pid, *descendants(server.proc.pid)]
        workers = {w for p in descendants(server.proc.pid) for w in query_workers(p)}
        assert workers, "the server processes have query workers"
        maps = [_maps(p) for p in procs]
        environs = [Path(f"/proc/{p}/environ").read_bytes() for p in procs]
    finally:
        server.stop()
    stderr = server.proc.stderr.read().decode() if server.proc.stderr else ""
    line = next(x for x in stderr.splitlines() if "serving on" in x)
    return line, maps, environs


@pytest.mark.live
@pytest.mark.parametrize("args", [("--allocator", "tcmalloc"), ()], ids=["tcmalloc", "default"])
def test_the_server_and_its_workers_run_on_tcmalloc(args: tuple[str, ...]) -> None:
    """Asked for, and by default (``auto``, with the library installed)."""
    line, maps, environs = _serve_and_look(*args)
    assert f"memory allocator: tcmalloc ({TCMALLOC})" in line
    assert all(TCMALLOC in m for m in maps), "every process: the server and its workers"
    assert all(b"\0TCMALLOC_AGGRESSIVE_DECOMMIT=true\0" in b"\0" + e for e in environs)


@pytest.mark.live
def test_system_keeps_the_c_library_malloc() -> None:
    line, maps, _ = _serve_and_look("--allocator", "system")
    assert "memory allocator: the system's malloc" in line
    assert not any("tcmalloc" in m for m in maps)
