#!/usr/bin/env python3
"""A city of zones end to end: a real nats-server with JetStream, three `citybrain zones node` processes and a load
of reports published to their zones.

Node b is killed with SIGKILL in the middle of a load: its zones go to the survivors (the time it takes is printed;
the 10 s target is scripts/zones_kill_test.sh's to measure) and come back when it is restarted. Then nats-server itself is killed with SIGKILL in the middle of a second load and restarted on its
store: the publisher retries what was not acknowledged and the nodes reconnect. At the end every acknowledged
report is in exactly one zone store, once (SQLite, read here), and no zone store holds a report twice.
With --store pg the zones' stores are schemas in a real PostgreSQL, node b reaches the bus through a relay the test
can cut, and two more phases follow: PostgreSQL killed with SIGKILL in the middle of a load and restarted, and a
partition between node b and the bus (its zones go to the others, and b, cut off, lets them go: a commit it might
still attempt is refused by the store's claim), healed after a while (b rejoins and takes its zones back).
With --rounds N it goes on with N randomised rounds (scripts/zones_kill_test.sh): in each, a load, and one of
the three nodes or nats-server killed with SIGKILL at a random moment, then restarted; the checks at the end cover
every round.
Usage: zones_test.py CITYBRAIN [--store sqlite|pg] [--rounds N] [--seed S]
"""
import argparse
import datetime
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
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import Postgres, check, finish, free_port  # noqa: E402

ARGS = argparse.ArgumentParser()
ARGS.add_argument("citybrain")
ARGS.add_argument("--rounds", type=int, default=0)
ARGS.add_argument("--seed", type=int, default=1)
ARGS.add_argument("--store", choices=["sqlite", "pg"], default="sqlite")
OPTS = ARGS.parse_args()
BIN = OPTS.citybrain
KEY = "zones-key-0123456789abcdef"


def last_json(out):
    """The JSON object a command printed last ({} when it printed none)."""
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}


def inside(poly, lon, lat):
    n, hit = len(poly), False
    for i in range(n):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % n]
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def border_pair(zones):
    """Two points 0.0004° apart (about 40 m) on both sides of a border between two zones: (zone of the first,
    zone of the second, (lon, lat) of each)."""
    def locate(lon, lat):
        return next((z["id"] for z in zones if inside(z["polygon"], lon, lat)), None)
    for z in zones:
        xs = [p[0] for p in z["polygon"]]
        ys = [p[1] for p in z["polygon"]]
        mx, my = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        for here, there in (((max(xs) - 0.0002, my), (max(xs) + 0.0002, my)),
                            ((mx, max(ys) - 0.0002), (mx, max(ys) + 0.0002))):
            a, b = locate(*here), locate(*there)
            if a == z["id"] and b and b != a:
                return a, b, here, there
    raise SystemExit("FAIL: no two zones share a border")


def wait_port(port, timeout_s=10):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Relay:
    """A TCP relay between one node and nats-server that the test can cut: a partition, as the node sees it. Cut, it
    passes nothing and swallows what comes, so the node's requests hang until they time out, as across a dead link;
    healed, it closes the connections that were cut (their streams lost bytes) and the node reconnects through it."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.cut = threading.Event()
        self.lock = threading.Lock()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(client)
            if self.cut.is_set():
                continue  # accepted, never answered: a connect across a dead link
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), 2)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if self.cut.is_set():
                continue
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def partition(self):
        self.cut.set()

    def heal(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self.cut.clear()


def main():
    server = shutil.which("nats-server") or "/usr/bin/nats-server"
    if not os.path.exists(server):
        print("FAIL: nats-server is missing (make deps installs it)")
        return 1
    tmp = tempfile.mkdtemp(prefix="cb_zones_")
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    procs = {}
    pg = Postgres() if OPTS.store == "pg" else None
    # Node b reaches the bus through a relay that the partition phase cuts.
    relay = Relay(port) if pg else None

    def store_args(flag):
        return ["--pg", pg.url] if pg else [flag, os.path.join(tmp, "data")]

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
        bus = f"nats://127.0.0.1:{relay.port}" if relay and name == "b" else url
        if name == "a":
            args = [BIN, "serve", "--zones", cfg, "--nats", bus, "--node", name, "--port", "0"] + \
                store_args("--zones-data")
        else:
            args = [BIN, "zones", "node", "--zones", cfg, "--nats", bus, "--node", name, "--port", "0"] + \
                store_args("--data")
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
        r = subprocess.run([BIN, "zones", "partition", "--zones", "6", "--units", "3", "--lease-ms", "2000",
                            "--out", cfg])
        check(r.returncode == 0, "zones partition writes a config")
        if OPTS.rounds:
            # Units that take seconds rather than half an hour for a job (2 s on site, travel at 300 m/s): the
            # rounds' kills then land while units are taken again and again.
            with open(cfg) as f:
                config = json.load(f)
            config["unit_service_ms"] = 2000
            config["unit_speed_mps"] = 300
            with open(cfg, "w") as f:
                json.dump(config, f)
        procs["nats"] = start_server()
        bad = subprocess.run([BIN, "zones", "node", "--zones", cfg, "--nats", url, "--node", "a.b", "--data", tmp],
                             capture_output=True, text=True, timeout=30)
        check(bad.returncode == 2 and "node" in bad.stderr, f"a bad node name is refused by name ({bad.stderr.strip()})")
        # The coupled-simulation prototype: three zones in a ring exchange their boundary vehicles each step.
        r = subprocess.run([BIN, "zones", "exchange", "--nats", url, "--parties", "3", "--steps", "200", "--vehicles",
                            "20"], capture_output=True, text=True, timeout=60)
        x = last_json(r.stdout) if r.returncode == 0 else {}
        check(r.returncode == 0 and x.get("mismatched") == 0 and x.get("steps") == 200,
              f"zones exchange runs 200 steps in lockstep with every byte checked ({r.stdout} {r.stderr})")
        r = subprocess.run([BIN, "zones", "exchange", "--nats", url, "--parties", "1"], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 2 and "--parties" in r.stderr, f"one party is refused by name ({r.stderr.strip()})")
        for n in "abc":
            procs[n] = start_node(n)
        # Settled, not only shared: the first node up takes every zone and hands zones over as the others appear,
        # so the holdings must stay the same for longer than a lease period (2 s) before they are the reference.
        settled = {"since": 0.0, "holders": None}

        def shared_and_settled(s):
            if len(s["nodes"]) != 3 or not all(z["node"] for z in s["zones"]) or \
                    len({z["node"] for z in s["zones"]}) != 3:
                settled["holders"] = None
                return False
            holders = [z["node"] for z in s["zones"]]
            if holders != settled["holders"]:
                settled["holders"], settled["since"] = holders, time.time()
            return time.time() - settled["since"] > 3.0
        s = wait_for(shared_and_settled, 30)
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
        # Two reports of one flood 40 m apart on both sides of a border: the second arrives in its own zone, is
        # handed over to the case next door, and its token finds it there.
        first_zone, second_zone, here, there = border_pair(zones)
        border_tokens = []
        for (lon, lat) in (here, there):
            status, body = request("a", "POST", "/api/v1/reports",
                                   json.dumps({"lat": lat, "long": lon, "service_code": "waterlogging"}),
                                   {"X-API-Key": KEY, "Content-Type": "application/json"})
            check(status == 202, f"a border report is queued ({status} {body})")
            border_tokens.append(body.get("token", "x.00") if body else "x.00")
            deadline = time.time() + 20
            while time.time() < deadline:
                status, body = request("c", "GET", f"/api/v1/reports/{border_tokens[-1]}")
                if status == 200 and body.get("state") == "filed":
                    break
                time.sleep(0.2)
        status, one = request("b", "GET", f"/api/v1/reports/{border_tokens[0]}")
        status, two = request("b", "GET", f"/api/v1/reports/{border_tokens[1]}")
        check(border_tokens[1].startswith(second_zone + ".") and two.get("zone") == first_zone and
              two.get("case_id") == one.get("case_id") and two.get("state") == "filed",
              f"a report across the border from a case joins it in {first_zone} ({one} / {two})")
        tokens.update({"border-1": border_tokens[0], "border-2": border_tokens[1]})
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
        # The 10 s failover target is measured, not asserted (a timed check fails on a busy machine, as it did once
        # under ASan at 11.4 s): scripts/zones_kill_test.sh measures it over many kills; the wait above bounds a hang.
        print(f"failover: b's zones served again {moved_s:.1f} s after the kill", flush=True)
        out, _ = load.communicate(timeout=120)
        first = last_json(out)
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
        second = last_json(out)
        check(load.returncode == 0 and second.get("unacknowledged") == 0,
              f"the second load is all acknowledged across the bus's restart {second}")

        loads = [first, second]
        # A replayed 311 load across the zones: NYC's February 2023 sample (../shared/data, never committed), moved
        # onto the city at its shape; every row that lands in a zone must end in exactly one zone store.
        nyc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "incidents",
                           "nyc311_sample", "nyc311_2023-02_sample5k.csv")
        if os.path.exists(nyc):
            r = subprocess.run([BIN, "zones", "publish", "--zones", cfg, "--nats", url, "--replay", nyc, "--count",
                                "100000", "--acked", os.path.join(tmp, "acked.txt"), "--deadline-s", "90"],
                               capture_output=True, text=True, timeout=150)
            loads.append(last_json(r.stdout))
            check(r.returncode == 0 and loads[-1].get("sent", 0) > 3000 and loads[-1].get("unacknowledged") == 0,
                  f"a replayed NYC 311 load is acknowledged across the zones {loads[-1]} {r.stderr[-300:]}")
            print(f"replayed 311: {loads[-1].get('sent')} of {loads[-1].get('reports')} rows in the zones", flush=True)
        else:
            print("SKIP the replayed 311 load: ../shared/data/incidents/nyc311_sample is absent")
        if pg:
            # PostgreSQL killed with SIGKILL in the middle of a load, and started again on its data: the nodes' commits
            # fail meanwhile, nothing is acknowledged that was not committed, and they take their zones again.
            load = publish("three", 6000, 2000)
            time.sleep(1.0)
            pg.kill9()
            time.sleep(1.0)
            pg.start()
            out, _ = load.communicate(timeout=150)
            loads.append(last_json(out))
            check(load.returncode == 0 and loads[-1].get("unacknowledged") == 0,
                  f"the third load is all acknowledged across PostgreSQL's restart {loads[-1]}")
            s = wait_for(lambda s: all(z["pending"] == 0 and z["unacked"] == 0 and z["node"] for z in s["zones"]), 60)
            check(s is not None and all(z["pending"] == 0 and z["unacked"] == 0 for z in s["zones"]),
                  f"the zones' backlogs drain once PostgreSQL is back ({s})")

            # A partition between node b and the bus in the middle of a load.
            s = wait_for(lambda s: sorted(z["zone"] for z in s["zones"] if z["node"] == "b") == sorted(held_by_b), 20)
            check(s is not None and sorted(z["zone"] for z in s["zones"] if z["node"] == "b") == sorted(held_by_b),
                  f"b holds its zones before the partition ({s})")
            with open(os.path.join(tmp, "b.log")) as f:
                b_log_at = len(f.read())
            load = publish("four", 6000, 2000)
            time.sleep(1.0)
            relay.partition()
            cut = time.time()
            s = wait_for(lambda s: all(z["node"] in ("a", "c") for z in s["zones"]), 20)
            moved = time.time() - cut
            check(s is not None and all(z["node"] in ("a", "c") for z in s["zones"]),
                  f"cut off from the bus, b's zones are served by a and c ({moved:.1f} s, {s})")
            let_go = set()
            deadline = time.time() + 15
            while time.time() < deadline and let_go != set(held_by_b):
                with open(os.path.join(tmp, "b.log")) as f:
                    let_go = set(re.findall(r"node b let go of zone (\S+)", f.read()[b_log_at:]))
                time.sleep(0.2)
            check(let_go == set(held_by_b), f"b, cut off, lets its zones go ({sorted(let_go)} of {held_by_b})")
            print(f"partition: b's zones served by a and c {moved:.1f} s after the cut", flush=True)
            time.sleep(max(0.0, 8.0 - (time.time() - cut)))  # the partition lasts a while after the load
            out, _ = load.communicate(timeout=150)
            loads.append(last_json(out))
            check(load.returncode == 0 and loads[-1].get("unacknowledged") == 0,
                  f"the fourth load is all acknowledged during the partition {loads[-1]}")
            relay.heal()
            healed = time.time()
            s = wait_for(lambda s: sorted(z["zone"] for z in s["zones"] if z["node"] == "b") == sorted(held_by_b), 30)
            check(s is not None and sorted(z["zone"] for z in s["zones"] if z["node"] == "b") == sorted(held_by_b),
                  f"healed, b rejoins and takes its zones back in {time.time() - healed:.1f} s ({s})")
            print(f"partition healed: b holds its zones again {time.time() - healed:.1f} s later", flush=True)

        rng = random.Random(OPTS.seed)
        extra = 0
        failovers = []
        for r in range(OPTS.rounds):
            victim = rng.choice(["a", "b", "c", "nats"] + (["pg"] if pg else []))
            load = publish(f"round{r}", 4000, 4000)
            time.sleep(rng.uniform(0.1, 0.9))
            if victim == "pg":
                pg.kill9()
                time.sleep(rng.uniform(0.2, 2.0))
                pg.start()
            else:
                procs[victim].kill()
                procs[victim].wait()
            if victim == "pg":
                pass
            elif victim == "nats":
                time.sleep(rng.uniform(0.2, 2.0))
                procs["nats"] = start_server()
            else:
                killed = time.time()
                s = wait_for(lambda s: all(z["node"] and z["node"] != victim for z in s["zones"]), 20)
                failovers.append(time.time() - killed)
                check(failovers[-1] <= 10, f"round {r}: {victim}'s zones served again in {failovers[-1]:.1f} s")
                procs[victim] = start_node(victim)
            out, _ = load.communicate(timeout=150)
            got = last_json(out)
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
            stats[n] = last_json(out)
        print("node stats:", stats)
        if pg:
            print("commits refused by a later claim (fenced):", sum(st.get("fenced", 0) for st in stats.values()))

        # Every acknowledged report is in exactly one zone's store, once.
        with open(os.path.join(tmp, "acked.txt")) as f:
            acked = [line.strip() for line in f if line.strip()]
        seen = {}
        if pg:
            stores = [r[0] for r in pg.query("SELECT schema_name FROM information_schema.schemata "
                                             "WHERE schema_name LIKE 'zone\\_%' ORDER BY 1")]
            for name in stores:
                for (key, n) in pg.query(f"SELECT idem_key, COUNT(*) FROM {name}.reports GROUP BY idem_key"):
                    seen.setdefault(key, []).append((name, int(n)))
        else:
            stores = sorted(n for n in os.listdir(os.path.join(tmp, "data")) if n.endswith(".db"))
            for name in stores:
                db = sqlite3.connect(os.path.join(tmp, "data", name))
                for (key, n) in db.execute("SELECT idem_key, COUNT(*) FROM reports GROUP BY idem_key"):
                    seen.setdefault(key, []).append((name, n))
                db.close()
        check(len(stores) == 6, f"six zone stores ({stores})")
        acked += http_tokens  # the HTTP reports' keys, as the zone stores keep them
        missing = [k for k in set(acked) if k not in seen]
        twice = {k: v for k, v in seen.items() if len(v) > 1 or v[0][1] > 1}
        check(len(set(acked)) == sum(x.get("acknowledged", 0) for x in loads) + len(http_tokens) + extra,
              f"{len(set(acked))} distinct acknowledged reports")
        check(not missing, f"no acknowledged report lost ({len(missing)} missing, e.g. {missing[:5]})")
        check(not twice, f"no report applied twice ({len(twice)}, e.g. {list(twice.items())[:3]})")

        # Units: the loads file far more cases than the 18 units can take, so every unit is dispatched; no case is
        # dispatched twice, and no unit is taken again before the end of its last job (the note's "until", in whole
        # seconds, so rounded down), through every kill. Without --rounds a job lasts 30 min: each unit exactly once.
        dispatches = []  # (store, case, unit, time_ms, until_ms)
        for name in stores:
            rows = (pg.query(f"SELECT case_id, actor, time_ms, note FROM {name}.events WHERE action = 'dispatch'")
                    if pg else sqlite3.connect(os.path.join(tmp, "data", name)).execute(
                        "SELECT case_id, actor, time_ms, note FROM events WHERE action = 'dispatch'").fetchall())
            for (c, u, t, note) in rows:
                m = re.search(r"until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", note)
                until = (datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ")
                         .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) if m else None
                dispatches.append((name, int(c), u, int(t), until))
        units = [u["id"] for z in zones for u in z.get("units", [])]
        per_unit = {u: sorted((d for d in dispatches if d[2] == u), key=lambda d: d[3]) for u in units}
        per_case = {}
        for d in dispatches:
            per_case.setdefault(d[:2], []).append(d[2])
        check(len(units) == 18, f"18 units in the config ({len(units)})")
        check(all(d[4] is not None for d in dispatches), "every dispatch says until when")
        check(all(v for v in per_unit.values()), f"every unit dispatched ({ {u: len(v) for u, v in per_unit.items()} })")
        if not OPTS.rounds:
            check(all(len(v) == 1 for v in per_unit.values()),
                  f"every unit dispatched exactly once ({ {u: len(v) for u, v in per_unit.items()} })")
        overlaps = [(u, a, b) for u, v in per_unit.items() for a, b in zip(v, v[1:])
                    if a[4] is not None and b[3] < a[4]]
        check(not overlaps, f"no unit taken again before its last job ended ({overlaps[:3]})")
        check(all(len(v) == 1 for v in per_case.values()),
              f"no case dispatched twice ({[k for k, v in per_case.items() if len(v) > 1][:5]})")
        zone_of_store = {name: name[len("zone_"):] if pg else name[:-len(".db")] for name in stores}
        home = {u["id"]: z["id"] for z in zones for u in z.get("units", [])}
        lent = [d for d in dispatches if zone_of_store[d[0]] != home[d[2]]]
        print(f"units: {len(dispatches)} dispatched, {len(lent)} of them lent to another zone; node stats "
              f"dispatched {sum(st.get('dispatched', 0) for st in stats.values())}, "
              f"borrowed {sum(st.get('borrowed', 0) for st in stats.values())}", flush=True)
        print(f"zones: {len(acked)} acknowledged, {len(seen)} stored in {len(stores)} zone stores; "
              f"failover {moved_s:.1f} s; first load {first.get('per_s', 0):.0f}/s")
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        if pg:
            pg.stop()
    return finish("zones", tmp, tails=("a", "b", "c", "nats", "publish"))


if __name__ == "__main__":
    sys.exit(main())
