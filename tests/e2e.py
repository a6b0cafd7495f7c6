"""Helpers shared by the end-to-end tests that drive `citybrain serve` over real HTTP on loopback."""
import http.client
import json
import socket
import subprocess
import time

FAILED = []


def check(ok, what):
    """Records a failed expectation and goes on, so one run reports every failure."""
    if not ok:
        FAILED.append(what)
        print("FAIL:", what, flush=True)


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
