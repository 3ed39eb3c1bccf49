"""``sovkg serve``'s settings: one table of options, flags over variables over defaults, range
checks that exit 2 naming the option; optional speed-ups that explain themselves; quiet logs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest
from sovkg.cli.args import parser
from sovkg.config import (
    DEFAULT_SERVER_WORKERS,
    OPTIONS,
    Settings,
    SettingsError,
    cache_dir,
    option,
    overrides_from,
)

from tests.support.server import ROOT, LiveServer, run_sovkg


def _settings(argv: list[str], env: dict[str, str] | None = None) -> Settings:
    args = parser().parse_args(["serve", *argv])
    return Settings.from_env(overrides_from(vars(args)), env=env or {})


def test_every_field_has_one_option_and_every_variable_is_read() -> None:
    names = [f.name for f in fields(Settings)]
    assert sorted(o.field for o in OPTIONS) == sorted(names)
    assert len({o.env for o in OPTIONS}) == len(OPTIONS)
    assert all(o.env.startswith("SOVKG_") for o in OPTIONS)
    assert "extra" not in names


def test_flags_and_variables_default_alike() -> None:
    # nothing given: the flags' defaults are the settings' defaults, with the server processes
    # worked out for the machine (a Settings made in code serves in one process)
    assert _settings([]) == replace(Settings(), workers=DEFAULT_SERVER_WORKERS)
    assert Settings().query_workers == 2  # the documented default of --query-workers
    assert DEFAULT_SERVER_WORKERS == min(4, len(os.sched_getaffinity(0)))


@pytest.mark.parametrize(
    ("flags", "env", "workers"),
    [
        ([], {}, DEFAULT_SERVER_WORKERS),
        (["--allow-updates"], {"SOVKG_TOKEN": "t"}, 1),
        (["--store", "/tmp/sovkg-never-opened"], {}, 1),
        (["--http", "h11"], {}, 1),
        ([], {"SOVKG_WORKERS": "1"}, 1),
        (["--workers", "3"], {"SOVKG_WORKERS": "1"}, 3),
    ],
)
def test_the_default_number_of_server_processes(
    flags: list[str], env: dict[str, str], workers: int
) -> None:
    """One per core (at most 4) unless updates, a RocksDB store or uvicorn need one; a flag or
    variable always wins."""
    assert _settings(flags, env).workers == workers


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("port", "9001", 9001),
        ("query_workers", "0", 0),
        ("max_rows", "7", 7),
        ("cache_bytes", "0.5", 512 * 1024),
        ("allow_updates", "yes", True),
        ("validate_on_start", "0", False),
        ("access_log", "false", False),
        ("allow_service", "http://a/ http://b/", ("http://a/", "http://b/")),
        ("body_timeout", "2.5", 2.5),
        ("thing_base", "https://example.org/", "https://example.org/"),
        ("cache_dir", "/tmp/x", Path("/tmp/x")),
        ("cpu_affinity", "off", "off"),
    ],
)
def test_each_variable_sets_its_field(field: str, text: str, value: object) -> None:
    env = {option(field).env: text}
    if field == "allow_updates":
        env["SOVKG_TOKEN"] = "t"
    assert getattr(_settings([], env), field) == value


def test_a_flag_overrides_its_variable() -> None:
    env = {"SOVKG_PORT": "9001", "SOVKG_QUERY_WORKERS": "3", "SOVKG_CACHE_MIB": "1"}
    s = _settings(["--port", "9002", "--query-workers", "0", "--cache-mib", "2"], env)
    assert (s.port, s.query_workers, s.cache_bytes) == (9002, 0, 2 * 1024 * 1024)
    assert _settings(["--no-validate"], {"SOVKG_VALIDATE": "1"}).validate_on_start is False


def test_out_of_range_names_the_flag_and_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"--workers \(SOVKG_WORKERS\) must be at least 1"):
        _settings(["--workers", "0"])
    with pytest.raises(SettingsError, match=r"--query-timeout \(SOVKG_QUERY_TIMEOUT\)"):
        _settings([], {"SOVKG_QUERY_TIMEOUT": "0"})
    with pytest.raises(SettingsError, match=r"--port \(SOVKG_PORT\): cannot read 'x'"):
        _settings([], {"SOVKG_PORT": "x"})


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--max-rows", "-1"], {}, "--max-rows (SOVKG_MAX_ROWS)"),
        ([], {"SOVKG_MAX_BODY": "-5"}, "--max-body (SOVKG_MAX_BODY)"),
        ([], {"SOVKG_HTTP": "h3"}, "--http (SOVKG_HTTP)"),
        ([], {"SOVKG_CPU_AFFINITY": "all"}, "--cpu-affinity (SOVKG_CPU_AFFINITY)"),
    ],
)
def test_out_of_range_exits_2_with_one_line(
    args: list[str], env: dict[str, str], named: str
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "sovkg", "serve", *args],
        capture_output=True,
        timeout=60,
        env={**_clean_env(), **env},
        cwd=ROOT,
    )
    assert r.returncode == 2
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sovkg: ") and named in lines[0]


def test_cache_dir_comes_from_the_variable(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOVKG_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path


def _clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith("SOVKG_") or k == "SOVKG_CACHE_DIR"
    }


def test_httptools_missing_exits_2_naming_the_package() -> None:
    code = (
        "import sys; sys.modules['httptools'] = None\n"
        "from sovkg.cli import main\n"
        "raise SystemExit(main(['serve', '--http', 'httptools', '--port', '1']))\n"
    )
    r = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, timeout=60, cwd=ROOT
    )
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.strip().splitlines() == [
        "sovkg: --http httptools (SOVKG_HTTP) needs the httptools package: pip install httptools"
    ]


def test_several_workers_refuse_updates_exit_2() -> None:
    r = run_sovkg("serve", "--workers", "2", "--allow-updates", "--port", "1")
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    err = r.stderr.decode()
    assert "read-only" in err and "would not reach the data of the others" in err


@pytest.mark.live
def test_a_second_server_on_a_port_in_use_exits_2_naming_it() -> None:
    first = LiveServer("--no-validate", "--no-access-log")
    try:
        first.wait_ready()
        r = run_sovkg("serve", "--no-validate", "--port", str(first.port))
        assert r.returncode == 2 and b"Traceback" not in r.stderr
        assert f"port {first.port} on 127.0.0.1 is already in use" in r.stderr.decode()
        assert first.proc.poll() is None  # the first one serves on
    finally:
        first.stop()


def _raw_get(sock: socket.socket, path: str, extra: str = "") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


@pytest.mark.live
def test_h2c_upgrade_is_answered_as_http11_without_log_noise() -> None:
    server = LiveServer("--no-access-log", "--no-validate", "--query-workers", "0")
    try:
        server.wait_ready()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            h2c = (
                "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
            )
            first = _raw_get(sock, "/health", h2c)
            assert first.startswith(b"HTTP/1.1 200 ")
            second = _raw_get(sock, "/health")  # the connection still speaks HTTP/1.1
            assert second.startswith(b"HTTP/1.1 200 ")
    finally:
        server.stop()
    stderr = server.proc.stderr.read().decode() if server.proc.stderr else ""
    assert "serving on" in stderr
    assert "upgrade" not in stderr.lower() and "WebSocket" not in stderr
