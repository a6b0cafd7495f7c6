"""Helpers shared by the end-to-end tests that drive `citybrain serve` over real HTTP on loopback."""
import glob
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

FAILED = []


def check(ok, what):
    """Records a failed expectation and goes on, so one run reports every failure."""
    if not ok:
        FAILED.append(what)
        print("FAIL:", what, flush=True)


def finish(name, tmp=None, tails=()):
    """A run's end: on a failure, the last lines of each log named in `tails` are printed and `tmp` (the logs) is
    kept, else `tmp` is removed; then the tally. Returns the exit code."""
    if FAILED:
        for log in tails:
            path = os.path.join(tmp, f"{log}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    print(f"--- {log}.log (end)\n" + "".join(f.readlines()[-8:]))
        if tmp:
            print(f"(the logs are kept in {tmp})")
        print(f"{name}: {len(FAILED)} check(s) failed")
        return 1
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{name}: all checks passed")
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, port, log_path, timeout_s=20):
    """Starts a server and waits until its port accepts; raises with the log's tail if it never does."""
    log = open(log_path, "a")
    proc = subprocess.Popen(args, stderr=log)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("FAIL: the server did not start: " + open(log_path).read()[-2000:])


def call(port, method, path, body=None, key=None, content_type="application/json"):
    """One request; the answer's status and its JSON (or {"raw": text}; an image's bytes as they are)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": content_type}
    if key:
        headers["X-API-Key"] = key
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
    conn.request(method, path, body, headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    if r.getheader("Content-Type", "").startswith("image/"):
        return r.status, data
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, {"raw": data.decode(errors="replace")}


class Postgres:
    """A real PostgreSQL on loopback in a scratch directory (as tests/pg_test.sh starts one), which a test may kill
    with SIGKILL and start again on its data."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not bins:
            raise SystemExit("FAIL: PostgreSQL server binaries are missing (make deps installs the postgresql package)")
        self.bin = bins[-1]
        # A directory of its own: the server's user must reach it, and a test's own scratch directory is private.
        self.work = tempfile.mkdtemp(prefix="cb_pg_")
        os.chmod(self.work, 0o755)
        self.as_pg = []
        if os.getuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")  # initdb refuses to run as root
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.data = os.path.join(self.work, "data")
        subprocess.run(self.as_pg + [f"{self.bin}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E",
                                     "UTF8", "--locale=C.UTF-8"], check=True, stdout=subprocess.DEVNULL)
        self.start()
        subprocess.run(self.as_pg + [f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                                     "postgres", "citybrain"], check=True)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/citybrain"

    def start(self):
        # Just after a SIGKILL the old server's memory may still be held for a moment: try again then.
        for attempt in range(20):
            r = subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", self.data, "-l", f"{self.work}/log", "-w",
                                             "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.work} "
                                             "-c fsync=on -c max_connections=200", "start"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.5)
        with open(f"{self.work}/log", errors="replace") as f:
            raise SystemExit("FAIL: PostgreSQL did not start: " + f.read()[-2000:])

    def kill9(self):
        """SIGKILL to the server and all its processes at once, as a crash would: no shutdown checkpoint."""
        with open(f"{self.data}/postmaster.pid") as f:
            pid = int(f.readline())
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids = [pid] + [int(c) for c in children]
        for p in pids:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while time.time() < deadline:
            alive = []
            for p in pids:
                try:
                    os.kill(p, 0)
                    alive.append(p)
                except ProcessLookupError:
                    pass
            if not alive:
                break
            time.sleep(0.05)

    def query(self, sql):
        """Rows of a query through psql, as lists of text."""
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "citybrain",
                              "-At", "-F", "\t", "-c", sql], capture_output=True, text=True, check=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def stop(self):
        subprocess.run(self.as_pg + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)
