#!/usr/bin/env python3
"""A city of zones end to end: a real nats-server with JetStream, three `citybrain zones node` processes and a load
of reports published to their zones.

Node b is killed with SIGKILL in the middle of a load: its zones go to the survivors within 10 s and come back when
it is restarted. Then nats-server itself is killed with SIGKILL in the middle of a second load and restarted on its
store: the publisher retries what was not acknowledged and the nodes reconnect. At the end every acknowledged
report is in exactly one zone store, once (SQLite, read here), and no zone store holds a report twice.
With --rounds N it goes on with N randomised rounds (scripts/zones_kill_test.sh): in each, a load, and one of
the three nodes or nats-server killed with SIGKILL at a random moment, then restarted; the checks at the end cover
every round.
Usage: zones_test.py CITYBRAIN [--rounds N] [--seed S]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import random
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import FAILED, check, free_port  # noqa: E402

ARGS = argparse.ArgumentParser()
ARGS.add_argument("citybrain")
ARGS.add_argument("--rounds", type=int, default=0)
ARGS.add_argument("--seed", type=int, default=1)
OPTS = ARGS.parse_args()
BIN = OPTS.citybrain
KEY = "zones-key-0123456789abcdef"


def wait_port(port, timeout_s=10):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def main():
    server = shutil.which("nats-server") or "/usr/bin/nats-server"
    if not os.path.exists(server):
        print("FAIL: nats-server is missing (make deps installs it)")
        return 1
    tmp = tempfile.mkdtemp(prefix="cb_zones_")
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    procs = {}

    def start_server():
        log = open(os.path.join(tmp, "nats.log"), "a")
        p = subprocess.Popen([server, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", os.path.join(tmp, "js")],
                             stdout=log, stderr=log)
        check(wait_port(port), "nats-server listens")
        return p

    def start_node(name):
        # Node a is started as `serve --zones` (the command line), the others as `zones node`; all serve
        # the city's HTTP intake on a free port.
        log_path = os.path.join(tmp, f"{name}.log")
        log = open(log_path, "a")
        if name == "a":
            args = [BIN, "serve", "--zones", cfg, "--nats", url, "--node", name, "--zones-data",
                    os.path.join(tmp, "data"), "--port", "0"]
        else:
            args = [BIN, "zones", "node", "--zones", cfg, "--nats", url, "--node", name, "--data",
                    os.path.join(tmp, "data"), "--port", "0"]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True,
                             env=dict(os.environ, CITYBRAIN_API_KEYS=KEY))
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(log_path) as f:
                found = re.findall(rf"node {name} serves http://127\.0\.0\.1:(\d+)/", f.read())
            if found:
                http_port[name] = int(found[-1])
                break
            time.sleep(0.1)
        return p

    http_port = {}

    def request(node, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", http_port[node], timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, json.loads(data) if data else None

    def city_status():
        r = subprocess.run([BIN, "zones", "status", "--zones", cfg, "--nats", url, "--json"], capture_output=True,
                           text=True, timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def publish(prefix, count, rate):
        return subprocess.Popen([BIN, "zones", "publish", "--zones", cfg, "--nats", url, "--count", str(count),
                                 "--rate", str(rate), "--prefix", prefix, "--seed", str(len(prefix)),
                                 "--acked", os.path.join(tmp, "acked.txt"), "--deadline-s", "90"],
                                stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "publish.log"), "a"), text=True)

    def wait_for(what, timeout_s):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            s = city_status()
            if s is not None and what(s):
                return s
            time.sleep(0.2)
        return city_status()

    try:
        cfg = os.path.join(tmp, "zones.json")
        r = subprocess.run([BIN, "zones", "partition", "--zones", "6", "--lease-ms", "2000", "--out", cfg])
        check(r.returncode == 0, "zones partition writes a config")
        procs["nats"] = start_server()
        bad = subprocess.run([BIN, "zones", "node", "--zones", cfg, "--nats", url, "--node", "a.b", "--data", tmp],
                             capture_output=True, text=True, timeout=30)
        check(bad.returncode == 2 and "node" in bad.stderr, f"a bad node name is refused by name ({bad.stderr.strip()})")
        for n in "abc":
            procs[n] = start_node(n)
        s = wait_for(lambda s: len(s["nodes"]) == 3 and all(z["node"] for z in s["zones"]) and
                     len({z["node"] for z in s["zones"]}) == 3, 20)
        check(s is not None and len({z["node"] for z in s["zones"]}) == 3, f"three nodes share the six zones ({s})")
        held_by_b = [z["zone"] for z in s["zones"] if z["node"] == "b"] if s else []

        # Reports over HTTP at node a, for places in every zone: each is answered once JetStream stored it, with a
        # token; node c answers what became of it.
        with open(cfg) as f:
            zones = json.load(f)["zones"]
        tokens = {}
        for z in zones:
            xs = [p[0] for p in z["polygon"]]
            ys = [p[1] for p in z["polygon"]]
            lon, lat = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
            status, body = request("a", "POST", "/open311/v2/requests.json",
                                   f"service_code=road_damage&lat={lat}&long={lon}&description=pothole",
                                   {"X-API-Key": KEY, "Content-Type": "application/x-www-form-urlencoded"})
            check(status == 201 and body and body[0].get("token", "").startswith(z["id"] + "."),
                  f"an Open311 POST at node a for zone {z['id']} is queued there ({status} {body})")
            if status == 201:
                tokens[z["id"]] = body[0]["token"]
        filed = {}
        deadline = time.time() + 20
        while time.time() < deadline and len(filed) < len(tokens):
            for zid, token in tokens.items():
                status, body = request("c", "GET", f"/open311/v2/tokens/{token}.json")
                if status == 200 and body[0].get("service_request_id"):
                    filed[zid] = body[0]["service_request_id"]
            time.sleep(0.2)
        check(len(filed) == len(zones), f"node c finds every token's request id ({filed})")
        status, body = request("b", "GET", f"/api/v1/reports/{tokens.get(zones[0]['id'], 'x')}")
        check(status == 200 and body.get("state") == "filed" and body.get("case_id", 0) > 0 and
              body.get("category") == "road_damage", f"node b tells the case of a token ({body})")
        status, body = request("a", "POST", "/api/v1/reports",
                               json.dumps({"lat": 10.0, "long": 10.0, "service_code": "road_damage"}),
                               {"X-API-Key": KEY, "Content-Type": "application/json"})
        check(status == 400 and body.get("field") == "lat", f"a place in no zone is refused on lat ({status} {body})")
        status, body = request("b", "POST", "/api/v1/reports",
                               json.dumps({"lat": 22.72, "long": 114.25, "service_code": "road_damage",
                                           "time": "2099-01-01T00:00:00Z"}),
                               {"X-API-Key": KEY, "Content-Type": "application/json"})
        check(status == 400 and body.get("field") == "time", f"a report from the future is refused ({status} {body})")
        status, body = request("a", "POST", "/api/v1/reports", json.dumps({"lat": 22.72, "long": 114.25}),
                               {"Content-Type": "application/json"})
        check(status == 403 and body.get("field") == "api_key", f"a report without a key is refused ({status})")
        status, body = request("a", "GET", "/api/v1/reports/nowhere.00")
        check(status == 404 and body.get("field") == "token", f"an unknown token is a 404 on token ({status} {body})")
        status, body = request("c", "GET", "/api/v1/zones")
        check(status == 200 and sorted(body.get("nodes", [])) == ["a", "b", "c"] and
              all(z["node"] for z in body.get("zones", [])), f"GET /api/v1/zones shows who holds what ({body})")
        http_tokens = [bytes.fromhex(t.split(".", 1)[1]).decode() for t in tokens.values()]

        # A load, and node b killed in the middle of it.
        load = publish("one", 12000, 3000)
        time.sleep(1.5)
        procs["b"].kill()
        killed = time.time()
        s = wait_for(lambda s: all(z["node"] in ("a", "c") for z in s["zones"]), 20)
        moved_s = time.time() - killed
        check(s is not None and all(z["node"] in ("a", "c") for z in s["zones"]),
              f"b's zones {held_by_b} moved to the survivors in {moved_s:.1f} s ({s})")
        check(moved_s <= 10, f"a failed node's zones are served again within 10 s ({moved_s:.1f} s)")
        out, _ = load.communicate(timeout=120)
        first = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        check(load.returncode == 0 and first.get("unacknowledged") == 0, f"the first load is all acknowledged {first}")

        # b comes back and takes back its zones.
        procs["b"] = start_node("b")
        s = wait_for(lambda s: sorted(z["zone"] for z in s["zones"] if z["node"] == "b") == sorted(held_by_b), 20)
        check(s is not None and sorted(z["zone"] for z in s["zones"] if z["node"] == "b") == sorted(held_by_b),
              f"b rejoins and holds its zones again ({s})")

        # A second load, and nats-server killed in the middle of it, then restarted on its store.
        load = publish("two", 6000, 2000)
        time.sleep(1.0)
        procs["nats"].kill()
        procs["nats"].wait()
        time.sleep(1.0)
        procs["nats"] = start_server()
        out, _ = load.communicate(timeout=150)
        second = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        check(load.returncode == 0 and second.get("unacknowledged") == 0,
              f"the second load is all acknowledged across the bus's restart {second}")

        rng = random.Random(OPTS.seed)
        extra = 0
        failovers = []
        for r in range(OPTS.rounds):
            victim = rng.choice(["a", "b", "c", "nats"])
            load = publish(f"round{r}", 4000, 4000)
            time.sleep(rng.uniform(0.1, 0.9))
            procs[victim].kill()
            procs[victim].wait()
            if victim == "nats":
                time.sleep(rng.uniform(0.2, 2.0))
                procs["nats"] = start_server()
            else:
                killed = time.time()
                s = wait_for(lambda s: all(z["node"] and z["node"] != victim for z in s["zones"]), 20)
                failovers.append(time.time() - killed)
                check(failovers[-1] <= 10, f"round {r}: {victim}'s zones served again in {failovers[-1]:.1f} s")
                procs[victim] = start_node(victim)
            out, _ = load.communicate(timeout=150)
            got = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            check(load.returncode == 0 and got.get("unacknowledged") == 0, f"round {r} ({victim} killed): {got}")
            extra += got.get("acknowledged", 0)
            print(f"round {r}: {victim} killed; {got.get('acknowledged')} acknowledged", flush=True)
        if failovers:
            print(f"failover over {len(failovers)} node kills: max {max(failovers):.1f} s, "
                  f"mean {sum(failovers) / len(failovers):.1f} s")

        s = wait_for(lambda s: all(z["pending"] == 0 and z["unacked"] == 0 and z["node"] for z in s["zones"]), 60)
        check(s is not None and all(z["pending"] == 0 and z["unacked"] == 0 for z in s["zones"]),
              f"every zone's backlog drains ({s})")
        stats = {}
        for n in "abc":
            procs[n].send_signal(signal.SIGTERM)
            out, _ = procs[n].communicate(timeout=30)
            check(procs[n].returncode == 0, f"node {n} stops on SIGTERM")
            stats[n] = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        print("node stats:", stats)

        # Every acknowledged report is in exactly one zone's store, once.
        with open(os.path.join(tmp, "acked.txt")) as f:
            acked = [line.strip() for line in f if line.strip()]
        seen = {}
        stores = sorted(os.listdir(os.path.join(tmp, "data")))
        for name in stores:
            if not name.endswith(".db"):
                continue
            db = sqlite3.connect(os.path.join(tmp, "data", name))
            for (key, n) in db.execute("SELECT idem_key, COUNT(*) FROM reports GROUP BY idem_key"):
                seen.setdefault(key, []).append((name, n))
            db.close()
        acked += http_tokens  # the HTTP reports' keys, as the zone stores keep them
        missing = [k for k in set(acked) if k not in seen]
        twice = {k: v for k, v in seen.items() if len(v) > 1 or v[0][1] > 1}
        check(len(set(acked)) == first.get("acknowledged", 0) + second.get("acknowledged", 0) + len(http_tokens) + extra,
              f"{len(set(acked))} distinct acknowledged reports")
        check(not missing, f"no acknowledged report lost ({len(missing)} missing, e.g. {missing[:5]})")
        check(not twice, f"no report applied twice ({len(twice)}, e.g. {list(twice.items())[:3]})")
        print(f"zones: {len(acked)} acknowledged, {len(seen)} stored in {len(stores)} zone stores; "
              f"failover {moved_s:.1f} s; first load {first.get('per_s', 0):.0f}/s")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        if FAILED:
            for name in ("a", "b", "c", "nats", "publish"):
                path = os.path.join(tmp, f"{name}.log")
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print(f"--- {name}.log (end)\n" + "".join(f.readlines()[-8:]))
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILED:
        print(f"{len(FAILED)} check(s) failed")
        return 1
    print("zones: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
