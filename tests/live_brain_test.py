#!/usr/bin/env python3
"""The live brain end to end: a real mosquitto, `citybrain serve --district default` and `citybrain fleet-sim`.

An Open311 POST and a camera's event (POST /api/v1/events) become cases; the brain sends units over MQTT (the fleet
protocol), the simulated robots drive there and report back, and the cases reach "handled"; an inspector closes one
through the API. A bad event is refused with its field named. Both processes stop cleanly on SIGTERM.
Usage: live_brain_test.py CITYBRAIN
"""
import http.client
import json
import os
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import check, finish, free_port  # noqa: E402

BIN = sys.argv[1]
KEY = "live-key-0123456789abcdef"


def main():
    broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(broker):
        print("FAIL: mosquitto is missing (make deps installs it)")
        return 1
    tmp = tempfile.mkdtemp(prefix="cb_live_")
    mqtt_port = free_port()
    with open(os.path.join(tmp, "m.conf"), "w") as f:
        f.write(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        if os.getuid() == 0:
            f.write("user root\n")
    procs = []
    mq = subprocess.Popen([broker, "-c", os.path.join(tmp, "m.conf")], stderr=subprocess.DEVNULL)
    procs.append(mq)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", mqtt_port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    env = dict(os.environ, CITYBRAIN_API_KEYS=KEY)
    mqtt = f"127.0.0.1:{mqtt_port}"
    serve = subprocess.Popen([BIN, "serve", "--district", "default", "--mqtt", mqtt, "--port", "0",
                              "--db", os.path.join(tmp, "live.db")],
                             env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    procs.append(serve)
    port = None
    for _ in range(20):
        line = serve.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/open311", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        print("FAIL: serve did not print its address")
        for p in procs:
            p.kill()
        return 1
    log_lines = []
    threading.Thread(target=lambda: log_lines.extend(serve.stderr), daemon=True).start()
    # Batteries drain 200 times faster than a robot's: a robot that handled a case comes back low and charges.
    # Ten wall seconds on site keep the crews busy while the reports come in, so robots take some of them.
    fleet = subprocess.Popen([BIN, "fleet-sim", "--mqtt", mqtt, "--speedup", "40", "--handle-s", "400", "--json",
                              "--battery-drain", "200"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(fleet)

    def request(method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    try:
        status, net = request("GET", "/api/network")
        check(status == 200, "the console's network document is served by the live brain")
        net = json.loads(net)
        # Two places inside the district: intersections' metres back to WGS84 are the brain's business, so take
        # coordinates near the district's origin (its south-west corner) that the brain maps onto its roads.
        lat0, lon0 = 22.7208, 114.2466
        body = urllib.parse.urlencode({"service_code": "street_vending", "lat": lat0 + 0.0022, "long": lon0 + 0.0025,
                                       "description": "摊贩占道经营"})
        status, data = request("POST", "/open311/v2/requests.json", body,
                               {"X-API-Key": KEY, "Content-Type": "application/x-www-form-urlencoded"})
        check(status == 201, f"Open311 POST accepted ({status} {data[:200]!r})")
        citizen_case = int(json.loads(data)[0]["service_request_id"])
        event = {"device": "cam-0007", "type": "camera", "category": "exposed_rubbish", "lat": lat0 + 0.0045,
                 "long": lon0 + 0.0049, "confidence": 0.93, "event_id": "e-1"}
        status, data = request("POST", "/api/v1/events", json.dumps(event),
                               {"X-API-Key": KEY, "Content-Type": "application/json"})
        check(status == 201, f"a camera's event accepted ({status} {data[:200]!r})")
        camera_case = json.loads(data)["case_id"] if status == 201 else -1
        status, data = request("POST", "/api/v1/events", json.dumps(dict(event, type="drone")),
                               {"X-API-Key": KEY, "Content-Type": "application/json"})
        check(status == 400 and json.loads(data).get("field") == "type", f"a bad event names its field ({data!r})")
        status, _ = request("POST", "/api/v1/events", json.dumps(event), {"Content-Type": "application/json"})
        check(status == 403, "an event without a key is refused")

        # More vending than crews, at once: robot dogs take some (and come back with their batteries low).
        for k in range(5):
            body = urllib.parse.urlencode({"service_code": "street_vending", "lat": lat0 + 0.0045 + 0.0023 * k,
                                           "long": lon0 + 0.0075 + 0.0012 * (k % 2), "description": "摊贩占道经营"})
            status, _ = request("POST", "/open311/v2/requests.json", body,
                                {"X-API-Key": KEY, "Content-Type": "application/x-www-form-urlencoded"})
            check(status == 201, f"vending report {k} accepted ({status})")
        # The units go, arrive and report done over MQTT: both cases reach "handled".
        done = {}
        deadline = time.time() + 60
        while time.time() < deadline:
            done = {}
            for cid in (citizen_case, camera_case):
                status, data = request("GET", f"/api/v1/cases/{cid}", headers={"X-API-Key": KEY})
                done[cid] = json.loads(data) if status == 200 else {}
            if all(c.get("status") == "handled" for c in done.values()):
                break
            time.sleep(0.5)
        for cid, c in done.items():
            check(c.get("status") == "handled", f"case {cid} handled by a unit (status {c.get('status')})")
            actions = [e["action"] for e in c.get("history", [])]
            check(actions[:5] == ["report", "file", "dispatch", "start", "feedback"],
                  f"case {cid} went report, file, dispatch, start, feedback ({actions})")
        # No eyes in the live World: an inspector verifies and closes through the API.
        status, data = request("POST", f"/api/v1/cases/{citizen_case}/transitions",
                               json.dumps({"action": "close", "actor": "inspector-li", "note": "verified"}),
                               {"X-API-Key": KEY, "Content-Type": "application/json"})
        check(status == 200, f"an inspector closes the case ({status} {data[:200]!r})")
        status, data = request("GET", "/api/state")
        state = json.loads(data)
        check(status == 200 and len(state.get("units", [])) == len(net["units"]),
              "the console's state shows the live fleet")
        # Every request has its line in the access log, under the id its response carried.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/api/v1/cases?status=nonsense", headers={"X-API-Key": KEY})
        r = c.getresponse()
        err = json.loads(r.read())
        rid = r.getheader("X-Request-Id")
        c.close()
        check(err.get("request_id") == rid and err.get("code") == "invalid_argument",
              f"the error body carries the response's request id ({rid}): {err}")
        time.sleep(0.2)
        check(any(f"id={rid} " in line and "GET /api/v1/cases?status=nonsense 400" in line for line in log_lines),
              f"the access log has the request's line ({log_lines[-3:]})")
        check(any("POST /api/v1/events 201" in line for line in log_lines), "the event's POST is in the access log")
        fleet_kpi = state.get("kpi", {}).get("fleet", {})
        check(fleet_kpi.get("orders", 0) >= 2 and fleet_kpi.get("acknowledged") == fleet_kpi.get("orders"),
              f"every order acknowledged over MQTT ({fleet_kpi})")

        # The units' own reports reach the console: a robot back from a case is low and charging; crews carry no
        # battery; once the fleet goes silent, every unit is lost.
        kinds = [u["kind"] for u in net["units"]]
        status, data = request("GET", "/api/state")
        fleet_now = json.loads(data).get("fleet", [])
        check(len(fleet_now) == len(kinds), f"the frame carries every unit's condition ({fleet_now})")
        check(all((b == -1) == (k == "crew") for (b, _, _), k in zip(fleet_now, kinds)),
              f"a battery for every robot and none for crews ({fleet_now})")
        deadline = time.time() + 30
        while time.time() < deadline and not any(0 <= b < 25 and c for b, _, c in fleet_now):
            time.sleep(0.5)
            fleet_now = json.loads(request("GET", "/api/state")[1]).get("fleet", [])
        check(any(0 <= b < 25 and charging for b, _, charging in fleet_now),
              f"a robot back from a case is low and charging ({fleet_now})")
        fleet.send_signal(signal.SIGTERM)
        out, _ = fleet.communicate(timeout=20)
        counts = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        check(counts.get("arrivals", 0) >= 2, f"fleet-sim drove to both cases ({counts})")
        check(counts.get("charges", 0) >= 1, f"fleet-sim charged a robot ({counts})")
        check(fleet.returncode == 0, "fleet-sim stops on SIGTERM")
        lost = []
        deadline = time.time() + 30
        while time.time() < deadline:
            lost = [u[1] for u in json.loads(request("GET", "/api/state")[1]).get("fleet", [])]
            if lost and all(lost):
                break
            time.sleep(0.5)
        check(lost and all(lost), f"a silent fleet is reported lost ({lost})")
    finally:
        for p in (fleet, serve):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        try:
            fleet.wait(timeout=20)
            serve.wait(timeout=20)
            check(serve.returncode == 0, f"serve stops on SIGTERM (exit {serve.returncode})")
        except subprocess.TimeoutExpired:
            check(False, "processes stop on SIGTERM")
        for p in procs:
            if p.poll() is None:
                p.kill()
    return finish("live brain", tmp)


if __name__ == "__main__":
    sys.exit(main())
