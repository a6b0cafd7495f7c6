#!/usr/bin/env python3
"""One brain over real HTTP: `citybrain run` serves Open311, /api/v1, the console and its live feed on one port.

An Open311 POST (as curl would send it) to a running district becomes a case; a unit is assigned and travels in the
simulation, plays its notice on arrival, and the case closes after verification, all visible through the API. The
console's page and /api/state come from the same port. Usage: run_api_test.py CITYBRAIN
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import FAILED, check  # noqa: E402

BIN = sys.argv[1]
KEY = "e2e-key-0123456789abcdef"


def main():
    tmp = tempfile.mkdtemp(prefix="cb_run_api_")
    env = dict(os.environ, CITYBRAIN_API_KEYS=KEY)
    # 1 simulated hour at x120: 30 s of wall time, long enough to see a case through, short for CI.
    proc = subprocess.Popen([BIN, "run", "--port", "0", "--speedup", "120", "--sim-hours", "1",
                             "--db", os.path.join(tmp, "run.db"), "--report", os.path.join(tmp, "report.json")],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = None
    for _ in range(20):
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        print("FAIL: run did not print its address", proc.stderr.read())
        proc.kill()
        return 1
    threading.Thread(target=proc.stderr.read, daemon=True).start()

    def request(method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type", ""), r.getheader("X-Request-Id"), data

    try:
        # One port: the console's page, its state document and the API.
        status, ctype, rid, page = request("GET", "/")
        check(status == 200 and b"<html" in page.lower(), "the console's page is served at /")
        check(rid is not None, "responses carry X-Request-Id")
        status, _, _, state = request("GET", "/api/state")
        check(status == 200 and "cases" in json.loads(state), "/api/state is the console's state")
        status, _, _, services = request("GET", "/open311/v2/services.json")
        check(status == 200 and any(s["service_code"] == "street_vending" for s in json.loads(services)),
              "Open311 services on the same port")

        # Where to report: a landmark of the district (its coordinates from the console's network document).
        status, _, _, net = request("GET", "/api/network")
        net = json.loads(net)
        body = urllib.parse.urlencode({"service_code": "street_vending",
                                       "address_string": "龙岗区",
                                       "description": "吉祥路与龙城大道交叉口有摊贩占道经营"})
        # A citizen's message names a junction and gives no coordinates: the brain's gazetteer places it.
        names = [r["name"] for r in net["roads"] if r.get("name")]
        if len(set(names)) >= 2:
            a, b = sorted(set(names))[:2]
            body = urllib.parse.urlencode({"service_code": "street_vending", "address_string": "龙岗区",
                                           "description": f"{a}与{b}交叉口有摊贩占道经营，堵住了路"})
        status, _, _, posted = request("POST", "/open311/v2/requests.json", body,
                                       {"Content-Type": "application/x-www-form-urlencoded", "X-API-Key": KEY})
        check(status == 201, f"Open311 POST is accepted ({status} {posted[:200]!r})")
        report = json.loads(posted)[0]["service_request_id"]
        status, _, _, view = request("GET", f"/open311/v2/requests/{report}.json")
        view = json.loads(view)[0]
        case_id = view["case_id"]
        check(view.get("lat") is not None, "the message was placed by the gazetteer (lat/long set)")

        history = []
        detail = {}
        deadline = time.time() + 60
        while time.time() < deadline:
            status, _, _, d = request("GET", f"/api/v1/cases/{case_id}", headers={"X-API-Key": KEY})
            detail = json.loads(d)
            if detail.get("status") == "closed":
                break
            time.sleep(0.5)
        check(detail.get("status") == "closed", f"the posted case closes (last status {detail.get('status')})")
        history = [h["action"] for h in detail.get("history", [])]
        check(history[:6] == ["report", "file", "dispatch", "start", "feedback", "close"],
              f"lifecycle report → file → dispatch → start → feedback → close ({history})")
        notes = " ".join(h.get("note", "") for h in detail.get("history", []))
        dispatched = [h["actor"] for h in detail.get("history", []) if h["action"] == "dispatch"]
        if dispatched and "dog" in dispatched[0]:
            check("notice played" in notes, "the robot dog played its notice")
        # The console shows the same case in the same schema. Its state document is rebuilt once a frame, so it
        # may lag the store (which the API reads) by a frame: wait for the frame after the close.
        shown = []
        deadline = time.time() + 20
        while time.time() < deadline:
            status, _, _, state = request("GET", "/api/state")
            shown = [c for c in json.loads(state)["cases"] if str(c["id"]) == str(case_id)]
            if shown and shown[0]["status"] == detail["status"]:
                break
            time.sleep(0.2)
        check(len(shown) == 1 and shown[0]["status"] == detail["status"] and shown[0]["priority"] == detail["priority"],
              f"the console's case equals the API's ({shown[:1]} against {detail.get('status')}, {detail.get('priority')})")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            check(False, "run stops on Ctrl-C")
    check(proc.returncode == 0, f"run exits 0 after Ctrl-C (rc {proc.returncode})")
    report = json.load(open(os.path.join(tmp, "report.json")))
    check(report.get("stopped") is True and report.get("intake_errors") == 0, "the report says stopped, no errors")
    print("run_api_test:", "FAILED " + str(len(FAILED)) if FAILED else "ok", flush=True)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
