#!/usr/bin/env python3
"""Load test of the live brain: a real mosquitto, `citybrain serve --district default --units N` and
`citybrain fleet-sim --units N`, and reports posted over Open311 at a steady rate.

Measured, per report: the wall time from sending the POST to the order reaching the unit over MQTT (fleet-sim's
--log), so the latency includes HTTP, intake, the brain's dispatch round, the fleet protocol and the broker. Checked:
every acknowledged report is a case, every case got an order, every order was acknowledged, every case was handled.
Each report is a separate incident: the taxonomy is the embedded one with de-duplication switched off (radius 0), so
that the load is N cases and not a few cases with many duplicates.

Usage: bench_live.py CITYBRAIN [--units 1000] [--rate 10] [--duration 600] [--speedup 10] [--json]
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

KEY = "bench-key-0123456789abcdef"
CATEGORIES = ["street_vending", "exposed_rubbish", "illegal_parking", "road_damage", "waterlogging", "bulky_waste"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def percentile(v, q):
    if not v:
        return None
    v = sorted(v)
    k = q * (len(v) - 1)
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--speedup", type=float, default=30)
    ap.add_argument("--drain", type=float, default=120, help="seconds to wait for the last cases to be handled")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="cb_bench_live_")
    procs = []
    try:
        taxonomy = json.load(open(os.path.join(root, "config", "taxonomy.json")))
        for c in taxonomy["categories"]:
            c["dedup"] = {"radius_m": 0, "window_min": 1}
        tax_path = os.path.join(tmp, "taxonomy.json")
        json.dump(taxonomy, open(tax_path, "w"), ensure_ascii=False)

        broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        mqtt_port = free_port()
        with open(os.path.join(tmp, "m.conf"), "w") as f:
            f.write(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
            f.write(f"log_dest file {tmp}/broker.log\n")
            if os.getuid() == 0:
                f.write("user root\n")
        procs.append(subprocess.Popen([broker, "-c", os.path.join(tmp, "m.conf")], stderr=subprocess.DEVNULL))
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", mqtt_port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        mqtt = f"127.0.0.1:{mqtt_port}"
        serve = subprocess.Popen([a.bin, "serve", "--district", "default", "--units", str(a.units), "--mqtt", mqtt,
                                  "--port", "0", "--db", os.path.join(tmp, "live.db"), "--taxonomy", tax_path],
                                 env=dict(os.environ, CITYBRAIN_API_KEYS=KEY), stderr=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, text=True)
        procs.append(serve)
        port = None
        for _ in range(20):
            m = re.search(r"http://127\.0\.0\.1:(\d+)/open311", serve.stderr.readline())
            if m:
                port = int(m.group(1))
                break
        if port is None:
            print("serve did not start", file=sys.stderr)
            return 1
        threading.Thread(target=serve.stderr.read, daemon=True).start()
        log = os.path.join(tmp, "orders.jsonl")
        fleet = subprocess.Popen([a.bin, "fleet-sim", "--units", str(a.units), "--mqtt", mqtt, "--speedup",
                                  str(a.speedup), "--handle-s", "60", "--log", log, "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(fleet)
        time.sleep(2)  # the fleet's first heartbeats

        rng = random.Random(1)
        sent = {}  # case id -> wall ms when the POST was sent
        errors = []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = int(a.rate * a.duration)
        start = time.time()
        for i in range(n):
            due = start + i / a.rate
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            body = urllib.parse.urlencode({"service_code": rng.choice(CATEGORIES),
                                           "lat": 22.7208 + rng.uniform(0.0005, 0.0110),
                                           "long": 114.2466 + rng.uniform(0.0005, 0.0120),
                                           "description": f"load {i}"})
            t0 = time.time() * 1000
            try:
                conn.request("POST", "/open311/v2/requests.json", body,
                             {"X-API-Key": KEY, "Content-Type": "application/x-www-form-urlencoded"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                errors.append(str(e))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            if r.status != 201:
                errors.append(f"{r.status} {data[:100]!r}")
                continue
            sent[int(json.loads(data)[0]["service_request_id"])] = t0
        post_wall = time.time() - start

        # Drain: wait until every case is handled (or the drain time is up).
        handled = 0
        deadline = time.time() + a.drain
        while time.time() < deadline:
            conn.request("GET", "/api/v1/stats")
            stats = json.loads(conn.getresponse().read())
            handled = stats["cases_per_status"].get("handled", 0)
            if handled >= len(sent):
                break
            time.sleep(1)
        conn.request("GET", "/api/state")
        kpi = json.loads(conn.getresponse().read()).get("kpi", {})
        for p in (fleet, serve):
            p.send_signal(signal.SIGTERM)
        fleet_counts = json.loads(fleet.communicate(timeout=60)[0].strip().splitlines()[-1])
        serve.wait(timeout=60)

        first_order = {}
        for line in open(log):
            e = json.loads(line)
            if e["event"] != "order" or not e["task"].startswith("case-"):
                continue
            cid = int(e["task"][5:])
            first_order.setdefault(cid, e["t_ms"])
        latency = [(first_order[c] - t) / 1000 for c, t in sent.items() if c in first_order]
        drops = 0
        try:
            drops = sum(1 for line in open(os.path.join(tmp, "broker.log")) if "dropped" in line)
        except OSError:
            pass
        out = {
            "units": a.units, "rate_per_s": a.rate, "duration_s": a.duration, "reports_sent": n,
            "reports_acknowledged": len(sent), "post_errors": len(errors), "post_wall_s": round(post_wall, 1),
            "cases_without_order": len([c for c in sent if c not in first_order]),
            "cases_handled": handled,
            "p50_report_to_order_s": percentile(latency, 0.5), "p95_report_to_order_s": percentile(latency, 0.95),
            "max_report_to_order_s": max(latency) if latency else None,
            "fleet": kpi.get("fleet"), "fleet_sim": fleet_counts, "broker_drop_warnings": drops,
        }
        print(json.dumps(out, indent=None if a.json else 2))
        ok = (not errors and out["cases_without_order"] == 0 and handled >= len(sent)
              and (kpi.get("fleet") or {}).get("pending", 1) == 0)
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
