"""A room full of students: N identical replicas of the dashboard behind HAProxy.

    python3 dev.py room N [--port 8501] [--bind 127.0.0.1] [--first-port 8601] [--remote HOST:PORT]

One Streamlit process is one Python interpreter, so one replica serves a few dozen sessions at
best; the URL holds the whole state of every page, so identical replicas can share a room. This
starts N replicas (`streamlit run dashboard/app.py` on 127.0.0.1:first-port, first-port + 1, ...)
and HAProxy in front of them on --bind:--port, with the configuration of deploy/haproxy.cfg (its
`bind` and `server` lines rewritten for these replicas; each --remote HOST:PORT adds a replica
that runs on another machine). Ctrl-C stops them all. A replica that exits is started again; its
browsers have meanwhile reconnected through the balancer to a live one.

All replicas share one `server.cookieSecret` (Streamlit signs its cookies with it): taken from
STREAMLIT_SERVER_COOKIE_SECRET when set (give replicas on other machines the same value),
otherwise generated afresh for each room. Streamlit's XSRF check compares the `_streamlit_xsrf`
cookie with the header the page sends, so it holds through the balancer whichever replica set
the cookie; an upload still needs the replica holding its session, which the sticky cookie
guarantees.

Standard library only, like dev.py (the replicas run with the venv's python).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "haproxy.cfg"
COOKIE = "UNROLLED_REPLICA"  # the balancer's sticky cookie (deploy/haproxy.cfg): a replica's name
SECRET_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"  # Streamlit reads server.cookieSecret from it
HAPROXY_MISSING = ("haproxy is missing: `python3 dev.py room` and tests/test_replicas.py need it. "
                   "Install it with `apt-get update && apt-get install -y haproxy` (python3 dev.py "
                   "setup does this when run as root).")
REPLICA_ARGS = ["--server.headless", "true", "--server.fileWatcherType", "none"]
RESTART_AFTER = 20.0  # s a replica must have lived before it is restarted (no crash loops)


def find_haproxy() -> str | None:
    """Path of the haproxy binary (Debian puts it in /usr/sbin, not on every user's PATH)."""
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.path.exists(p)), None)


def cookie_secret() -> str:
    """The one cookie secret all replicas share: the environment's, else a fresh random one."""
    return os.environ.get(SECRET_ENV) or secrets.token_hex(32)


def render_config(servers: list[tuple[str, str, int]], bind: str, template: str | None = None,
                  stats_socket: Path | None = None) -> str:
    """deploy/haproxy.cfg with its frontend's `bind` set to `bind` (HOST:PORT) and its `server`
    lines replaced by one per (name, host, port), the sticky cookie's value being the name; with
    stats_socket, a local admin socket that `server_states` reads."""
    text = CONFIG.read_text(encoding="utf-8") if template is None else template
    lines, out, placed = text.splitlines(), [], False
    for line in lines:
        m = re.match(r"(\s+)(bind|server)\s", line)
        if m and m.group(2) == "bind":
            out.append(f"{m.group(1)}bind {bind}")
        elif m and not placed:
            out += [f"{m.group(1)}server {n} {h}:{p} cookie {n}" for n, h, p in servers]
            placed = True
        elif not m:
            out.append(line)
            if line == "global" and stats_socket is not None:
                out.append(f"    stats socket {stats_socket} mode 600 level user")
    if not placed:
        raise ValueError("the HAProxy template has no `server` line to replace")
    return "\n".join(out) + "\n"


def server_states(stats_socket: Path) -> dict[str, str]:
    """Each server's state as HAProxy sees it ("UP", "DOWN", "UP 1/2", ...), from its socket."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(stats_socket))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = list(csv.reader(io.StringIO(data.decode().lstrip("# "))))
    col = {name: i for i, name in enumerate(rows[0])}
    return {r[col["svname"]]: r[col["status"]] for r in rows[1:]
            if len(r) > col["status"] and r[col["svname"]] not in ("FRONTEND", "BACKEND")}


def replica_command(port: int, python: str = sys.executable) -> list[str]:
    """`streamlit run dashboard/app.py` on 127.0.0.1:port with dev.py app's settings."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import dev  # standard library only: its APP_ARGS are the ones `python3 dev.py app` uses

    return [python, "-m", "streamlit", "run", "dashboard/app.py", *dev.APP_ARGS, *REPLICA_ARGS,
            "--server.address", "127.0.0.1", "--server.port", str(port)]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM the process group proc leads, SIGKILL it after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class Replica:
    name: str  # the server's name in the HAProxy config and the sticky cookie's value
    host: str
    port: int
    remote: bool = False  # runs on another machine (--remote): not started or stopped here
    proc: subprocess.Popen | None = None  # the local replica's process (leads its group)
    started: float = 0.0  # time.monotonic() of the last start

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class Room:
    url: str  # the balancer: what the students open
    replicas: list[Replica]
    workdir: Path  # the written haproxy.cfg, its stats socket and every process's log
    secret: str = field(repr=False)
    python: str = sys.executable
    haproxy: subprocess.Popen | None = None

    def start_replica(self, r: Replica) -> None:
        log = open(self.workdir / f"{r.name}.log", "a")  # noqa: SIM115 - the child keeps it
        r.proc = subprocess.Popen(replica_command(r.port, self.python), cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, SECRET_ENV: self.secret})
        log.close()
        r.started = time.monotonic()

    @property
    def stats_socket(self) -> Path:
        return self.workdir / "haproxy.sock"

    def states(self) -> dict[str, str]:
        """Each replica's state in HAProxy's eyes: "UP", "DOWN", "UP 1/2" (going down), ..."""
        return server_states(self.stats_socket)

    def all_up(self) -> bool:
        """True once HAProxy answers and counts every local replica UP (health checks passed)."""
        try:
            states = self.states()
        except OSError:  # the socket is not there yet
            return False
        return all(states.get(r.name) == "UP" for r in self.replicas if not r.remote)

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL a local replica's process group at once, as a crash would."""
        proc = self.replica(name).proc
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_until(check, what: str, timeout: float, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for p in procs:
            if p is not None and p.poll() is not None:
                raise RuntimeError(f"{what}: a process exited with {p.returncode} first")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


@contextlib.contextmanager
def open_room(n: int, port: int, bind_host: str = "127.0.0.1", ports: list[int] | None = None,
              remote: tuple[str, ...] = (), python: str = sys.executable,
              timeout: float = 120.0, workdir: Path | None = None):
    """Start n local replicas (on `ports`, default port + 100, + 101, ...) plus the `remote`
    HOST:PORT ones behind HAProxy on bind_host:port; yield the Room once the balancer answers and
    every local replica is healthy; stop everything (process groups, by PID) at the end."""
    haproxy = find_haproxy()
    if haproxy is None:
        raise FileNotFoundError(HAPROXY_MISSING)
    if n + len(remote) < 1:
        raise ValueError("a room needs at least one replica (N >= 1 or a --remote)")
    ports = ports or [port + 100 + i for i in range(n)]
    replicas = [Replica(f"r{i + 1}", "127.0.0.1", p) for i, p in enumerate(ports[:n])]
    for j, hp in enumerate(remote):
        host, _, rport = hp.rpartition(":")
        replicas.append(Replica(f"m{j + 1}", host, int(rport), remote=True))
    workdir = Path(workdir or tempfile.mkdtemp(prefix="unrolled-room-"))
    workdir.mkdir(parents=True, exist_ok=True)
    room = Room(f"http://{bind_host}:{port}", replicas, workdir, cookie_secret(), python)
    try:
        for r in replicas:
            if not r.remote:
                room.start_replica(r)
        cfg = workdir / "haproxy.cfg"
        cfg.write_text(render_config([(r.name, r.host, r.port) for r in replicas],
                                     f"{bind_host}:{port}", stats_socket=room.stats_socket),
                       encoding="utf-8")
        log = open(workdir / "haproxy.log", "w")  # noqa: SIM115 - the child keeps it
        room.haproxy = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        procs = [room.haproxy] + [r.proc for r in replicas]
        for r in replicas:
            if r.proc is not None:
                wait_until(lambda r=r: healthy(r.url), f"replica {r.name} ({r.url})", timeout, procs)
        wait_until(room.all_up, "HAProxy marking the replicas UP", timeout, procs)
        yield room
    finally:
        stop(room.haproxy)
        for r in replicas:
            stop(r.proc)


def supervise(room: Room) -> int:
    """Until Ctrl-C: restart a local replica that exited (unless it died young); stop when
    HAProxy exits."""
    while True:
        time.sleep(1.0)
        if room.haproxy.poll() is not None:
            print(f"room: haproxy exited with {room.haproxy.returncode} "
                  f"(see {room.workdir / 'haproxy.log'})", flush=True)
            return 1
        for r in room.replicas:
            if r.proc is None or r.proc.poll() is None:
                continue
            lived = time.monotonic() - r.started
            print(f"room: replica {r.name} ({r.url}) exited with {r.proc.returncode} after "
                  f"{lived:.0f} s; its browsers reconnect to the others", flush=True)
            if lived < RESTART_AFTER:
                print(f"room: not restarting {r.name} (it died within {RESTART_AFTER:.0f} s; "
                      f"see {room.workdir / (r.name + '.log')})", flush=True)
                r.proc = None
            else:
                room.start_replica(r)
                print(f"room: restarted {r.name}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 dev.py room", description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, help="replicas to start on this machine (0: only --remote ones)")
    ap.add_argument("--port", type=int, default=8501, help="the balancer's port (default 8501)")
    ap.add_argument("--bind", default="127.0.0.1",
                    help="the balancer's address: 0.0.0.0 serves the room (default 127.0.0.1)")
    ap.add_argument("--first-port", type=int, default=8601,
                    help="the first local replica's port on 127.0.0.1 (default 8601)")
    ap.add_argument("--remote", action="append", default=[], metavar="HOST:PORT",
                    help="a replica on another machine (repeatable)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even if started in the background
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the room like Ctrl-C
    try:
        ports = [args.first_port + i for i in range(args.n)]
        with open_room(args.n, args.port, args.bind, ports, tuple(args.remote)) as room:
            print(f"room: {len(room.replicas)} replicas behind {room.url} (HAProxy); logs and the "
                  f"config in {room.workdir}", flush=True)
            for r in room.replicas:
                print(f"room:   {r.name} {r.url}", flush=True)
            print("room: open the balancer's address; Ctrl-C stops everything", flush=True)
            return supervise(room)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        print(f"room: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("room: stopped", flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
