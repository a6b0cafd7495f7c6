#!/usr/bin/python3
"""End-to-end test of `citybrain serve` over real HTTP on loopback.

Validates Open311 responses against the GeoReport v2 JSON Schemas in ../shared/data/incidents/open311_schemas
with the jsonschema validator (Debian's python3-jsonschema), checks XML, the spec's error format for bad input,
API keys, idempotency, the case lifecycle over the JSON API, and that every acknowledged report survives kill -9.
Usage: tests/server_test.py path/to/citybrain DATA_DIR
"""
import concurrent.futures
import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

import jsonschema

BIN, DATA = sys.argv[1], sys.argv[2]
SCHEMAS = os.path.abspath(os.path.join(DATA, "incidents", "open311_schemas"))
KEY = "test-key-0123456789abcdef"
FAILURES = []
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


class Server:
    def __init__(self, db, keys=KEY, args=(), nofile=None):
        env = dict(os.environ)
        env.pop("CITYBRAIN_API_KEYS", None)
        if keys:
            env["CITYBRAIN_API_KEYS"] = keys
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
        self.proc = subprocess.Popen([BIN, "serve", "--port", "0", "--db", db, *args], env=env,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=limit)
        line = self.proc.stderr.readline()
        m = re.search(r":(\d+)/open311", line)
        if not m:
            raise RuntimeError("server did not start: " + line + self.proc.stderr.read())
        self.port = int(m.group(1))
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        c = self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, r.getheader("Content-Type", ""), data

    def json(self, method, path, body=None, headers=None):
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data)

    def post_form(self, path, fields, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.json("POST", path, urllib.parse.urlencode(fields), h)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


def validator(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        schema = json.load(f)
    resolver = jsonschema.RefResolver(base_uri="file://" + SCHEMAS + "/", referrer=schema)
    return jsonschema.Draft4Validator(schema, resolver=resolver, format_checker=jsonschema.FormatChecker())


def validate(name, doc, what):
    if not os.path.isdir(SCHEMAS):
        return
    errors = list(validator(name).iter_errors(doc))
    check(not errors, f"{what} does not match {name}: {[e.message for e in errors[:3]]}")


def check_datetimes(req, what):
    for k in ("requested_datetime", "updated_datetime", "expected_datetime"):
        v = req.get(k)
        check(v is None or DATETIME.match(v), f"{what}.{k} = {v!r} is not an ISO 8601 date-time")


def check_error(status, body, want_status, field, what):
    check(status == want_status, f"{what}: HTTP {status}, wanted {want_status}")
    ok = isinstance(body, list) and body and body[0].get("code") == want_status and field in body[0].get("description", "")
    check(ok, f"{what}: error list {body} should name '{field}'")


def test_open311(s):
    print("open311: discovery, services, requests in JSON and XML", flush=True)
    st, doc = s.json("GET", "/open311/v2/discovery.json")
    check(st == 200 and doc["endpoints"][0]["url"].endswith("/open311/v2"), "discovery")
    st, services = s.json("GET", "/open311/v2/services.json")
    check(st == 200 and len(services) >= 8, "services list")
    validate("services.json", services, "services")
    codes = {x["service_code"] for x in services}
    for code in ("street_vending", "waterlogging", "exposed_rubbish", "illegal_parking", "missing_manhole", "noise",
                 "school_area_safety", "signal_fault"):
        check(code in codes, f"service {code} offered")
    st, definition = s.json("GET", "/open311/v2/services/waterlogging.json")
    check(st == 200, "service definition")
    validate("service-definition.json", definition, "service definition")

    st, created = s.post_form("/open311/v2/requests.json",
                              {"api_key": KEY, "service_code": "waterlogging", "lat": "22.7208", "long": "114.2466",
                               "description": "龙岗大道积水约30厘米", "media_url": "https://example.org/p.jpg"})
    check(st == 201 and created[0]["service_request_id"], f"POST requests: {st} {created}")
    first = created[0]["service_request_id"]
    st, dup = s.post_form("/open311/v2/requests.json",
                          {"api_key": KEY, "service_code": "waterlogging", "lat": "22.7209", "long": "114.2467"})
    check(st == 201, "second report")
    st, one = s.json("GET", "/open311/v2/requests/%s.json" % dup[0]["service_request_id"])
    check(st == 200 and one[0].get("parent_service_request_id") == first, f"duplicate points to its parent: {one}")
    validate("requests.json", one, "GET requests/{id}")
    st, listed = s.json("GET", "/open311/v2/requests.json?status=open&service_code=waterlogging")
    check(st == 200 and len(listed) >= 2, "GET requests filtered")
    validate("requests.json", listed, "GET requests")
    for r in listed:
        check_datetimes(r, "request")
    st, none = s.json("GET", "/open311/v2/requests.json?status=closed&service_code=waterlogging")
    check(st == 200 and none == [], "status=closed filter")
    st, window = s.json("GET", "/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z&end_date=2000-01-02T00:00:00Z")
    check(st == 200 and window == [], "date filter")

    for path, root in (("/open311/v2/services.xml", "services"), ("/open311/v2/requests.xml", "service_requests"),
                       ("/open311/v2/discovery.xml", "discovery"), ("/open311/v2/requests/%s.xml" % first, "service_requests")):
        st, ctype, body = s.request("GET", path)
        check(st == 200 and "xml" in ctype, f"{path}: {st} {ctype}")
        check(ET.fromstring(body).tag == root, f"{path} root element is {root}")
    st, _, body = s.request("GET", "/open311/v2/requests/999999.xml")
    check(st == 404 and ET.fromstring(body).tag == "errors", "XML error list")


def test_bad_input(s):
    print("bad input: 400/403/404 naming the field; nothing half-written", flush=True)
    _, before = s.json("GET", "/api/v1/stats")
    post = lambda fields, **kw: s.post_form("/open311/v2/requests.json", dict(fields, api_key=KEY), **kw)
    check_error(*post({"service_code": "noise"}), 400, "lat", "missing location")
    check_error(*post({"service_code": "no_such", "lat": "22.7", "long": "114.2"}), 400, "service_code", "unknown service")
    check_error(*post({"lat": "22.7", "long": "114.2"}), 400, "service_code", "missing service code")
    check_error(*post({"service_code": "noise", "lat": "22.7", "long": "114.2", "description": "x" * 4001}), 400,
                "description", "description over 4,000 characters")
    check_error(*post({"service_code": "noise", "lat": "north", "long": "114.2"}), 400, "lat", "lat not a number")
    check_error(*post({"service_code": "noise", "lat": "95", "long": "114.2"}), 400, "lat", "lat out of range")
    check_error(*post({"service_code": "noise", "address_string": "x", "media_url": "ftp://x"}), 400, "media_url", "media_url")
    # The key comes in a header here: a body that cannot be decoded cannot carry one.
    check_error(*s.json("POST", "/open311/v2/requests.json", "service_code=noise&lat=%zz",
                        {"Content-Type": "application/x-www-form-urlencoded", "X-API-Key": KEY}), 400, "lat",
                "malformed form body")
    check_error(*s.json("POST", "/open311/v2/requests.json", '{"service_code": "noise", "lat": ',
                        {"Content-Type": "application/json", "X-API-Key": KEY}), 400, "body", "malformed JSON body")
    check_error(*s.json("GET", "/open311/v2/requests.json?start_date=yesterday"), 400, "start_date", "bad date")
    check_error(*s.json("GET", "/open311/v2/requests.json?end_date=2023-02-30T00:00:00Z"), 400, "end_date", "bad date")
    check_error(*s.json("GET", "/open311/v2/requests/424242.json"), 404, "service_request_id", "unknown id")
    check_error(*s.json("GET", "/open311/v2/requests/abc.json"), 404, "service_request_id", "non-numeric id")
    check_error(*s.json("GET", "/open311/v2/services/nope.json"), 404, "service_code", "unknown service")
    check_error(*s.post_form("/open311/v2/requests.json", {"service_code": "noise", "lat": "22.7", "long": "114.2"}),
                403, "api_key", "missing API key")
    check_error(*s.post_form("/open311/v2/requests.json",
                             {"api_key": "wrong-key-0123456789", "service_code": "noise", "lat": "22.7", "long": "114.2"}),
                403, "api_key", "bad API key")
    st, body = s.json("POST", "/api/v1/cases/1/transitions", '{"action":"file","actor":"x"}')
    check(st == 403, "JSON API POST without key")
    # Malformed HTTP on a raw socket: 400, and the server keeps serving.
    with socket.create_connection(("127.0.0.1", s.port)) as raw:
        raw.sendall(b"GARBAGE \x00\x01 HTTP/9.9\r\n\r\n")
        reply = raw.recv(4096)
        check(reply.startswith(b"HTTP/1.1 400"), f"malformed HTTP gets 400: {reply[:40]!r}")
    st, _, data = s.request("POST", "/open311/v2/requests.json", "a" * 200000,
                            {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 413, f"oversized body gets 413, got {st}")
    body = json.loads(data)
    check(isinstance(body, list) and body[0]["code"] == 413, f"an Open311 path's 413 is an Open311 error list: {body}")
    st, ctype, data = s.request("POST", "/open311/v2/requests.xml", "a" * 200000,
                                {"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 413 and "xml" in ctype and ET.fromstring(data).tag == "errors", f"and XML on .xml paths: {data[:80]!r}")
    st, _, data = s.request("POST", "/api/v1/reports", "a" * 200000, {"Content-Type": "application/json"})
    body = json.loads(data)
    check(st == 413 and body.get("code") == "too_large" and body.get("request_id"), f"ours elsewhere: {body}")
    # HEAD answers every GET resource with GET's headers and no body; a method a resource does not take is 405
    # with an Allow header (issue 13, item 5).
    for path in ("/open311/v2/services.xml", "/api/v1/health", "/open311/v2/discovery.json"):
        c = s.conn()
        c.request("GET", path)
        r = c.getresponse()
        get_len = len(r.read())
        c.request("HEAD", path)
        r = c.getresponse()
        head_body = r.read()
        c.close()
        check(r.status == 200 and head_body == b"" and int(r.getheader("Content-Length", "-1")) == get_len,
              f"HEAD {path}: {r.status}, Content-Length {r.getheader('Content-Length')} for {get_len} bytes")
    c = s.conn()
    c.request("DELETE", "/open311/v2/requests.json")
    r = c.getresponse()
    r.read()
    c.close()
    check(r.status == 405 and r.getheader("Allow") == "GET, HEAD, POST", f"DELETE: {r.status} Allow {r.getheader('Allow')}")
    _, after = s.json("GET", "/api/v1/stats")
    check(after["reports"] == before["reports"], "no report was stored by bad requests")
    st, _ = s.json("GET", "/api/v1/health")
    check(st == 200, "still serving after bad input")


def test_xml_forbidden_text(s):
    print("text XML cannot carry: stored as sent, rendered the same in JSON and XML (issue 13, item 6)", flush=True)
    st, body = s.post_form("/open311/v2/requests.json",
                           {"api_key": KEY, "service_code": "noise", "lat": "22.71", "long": "114.21",
                            "description": "loud\x01music\uffff at night\x1b[31m"})
    check(st == 201, f"posted: {st} {body}")
    rid = body[0]["service_request_id"]
    st, ctype, data = s.request("GET", f"/open311/v2/requests/{rid}.xml")
    try:
        xml_text = ET.fromstring(data).find("request").find("description").text
    except ET.ParseError as e:
        xml_text = None
        check(False, f"requests.xml does not parse: {e}")
    st, doc = s.json("GET", f"/open311/v2/requests/{rid}.json")
    check(xml_text is not None and xml_text == doc[0]["description"] and "\x01" not in xml_text,
          f"both formats show the same text: {xml_text!r} / {doc[0]['description']!r}")
    st, ctype, data = s.request("GET", "/open311/v2/requests.xml?status=open")
    try:
        ET.fromstring(data)
    except ET.ParseError as e:
        check(False, f"the request list in XML does not parse: {e}")


def test_idempotency(s):
    print("idempotency: a retried POST never creates a second report", flush=True)
    fields = {"api_key": KEY, "service_code": "exposed_rubbish", "lat": "22.73", "long": "114.26"}
    h = {"Idempotency-Key": "retry-1"}
    st1, a = s.post_form("/open311/v2/requests.json", fields, h)
    st2, b = s.post_form("/open311/v2/requests.json", fields, h)
    check(st1 == 201 and st2 == 200, f"first 201, retry 200: {st1} {st2}")
    check(a[0]["service_request_id"] == b[0]["service_request_id"], "same id on retry")
    st, listed = s.json("GET", "/open311/v2/requests.json?service_code=exposed_rubbish")
    check(len(listed) == 1, f"one report stored, found {len(listed)}")


def test_lifecycle(s):
    print("lifecycle over the JSON API: 7 steps, illegal step 409, audit history, statistics", flush=True)
    h = {"X-API-Key": KEY, "Content-Type": "application/json"}
    st, rec = s.json("POST", "/api/v1/reports", json.dumps({"source": "camera", "service_code": "street_vending",
                     "lat": 22.70, "long": 114.20, "confidence": 0.9, "description": "摊贩占道"}), h)
    check(st == 201 and rec["department"] == "CGJ", f"camera report routed to CGJ: {rec}")
    case = rec["case_id"]
    tr = lambda action, **kw: s.json("POST", f"/api/v1/cases/{case}/transitions",
                                     json.dumps(dict(action=action, actor="operator-7", **kw)), h)
    st, body = tr("close")
    check(st == 409 and "cannot close" in body["message"] and body["code"] == "conflict", "illegal step refused")
    for action in ("file", "dispatch", "start", "feedback", "close", "evaluate"):
        st, body = tr(action, note="ok")
        check(st == 200, f"{action}: {st} {body}")
    check(body["status"] == "evaluated", "evaluated at the end")
    st, detail = s.json("GET", f"/api/v1/cases/{case}", headers={"X-API-Key": KEY})
    check([e["action"] for e in detail["history"]] == ["report", "file", "dispatch", "start", "feedback", "close", "evaluate"],
          f"history: {detail['history']}")
    check(all(e["actor"] and e["time"] for e in detail["history"]), "every event has actor and time")
    st, listed = s.json("GET", "/api/v1/cases?status=evaluated&department=CGJ", headers={"X-API-Key": KEY})
    check(st == 200 and [c["id"] for c in listed["cases"]] == [case], "filter by status and department")
    st, err = s.json("GET", "/api/v1/cases?status=nonsense", headers={"X-API-Key": KEY})
    check(st == 400 and err["field"] == "status" and err.get("request_id"),
          f"bad filter names the field, with the request id: {err}")
    st, stats = s.json("GET", "/api/v1/stats")
    check(stats["median_time_to_close_s"] is not None and "SWJ" in stats["open_per_department"], f"stats: {stats}")
    st, _ = s.json("GET", "/api/v1/cases/987654", headers={"X-API-Key": KEY})
    check(st == 404, "unknown case 404")
    st, err = s.json("GET", f"/api/v1/cases/{case}")
    check(st == 403 and err["field"] == "api_key", "case details need a key with the operator role")


def test_no_keys(db):
    print("no API keys configured: every POST refused with 403", flush=True)
    s = Server(db, keys=None)
    try:
        check_error(*s.post_form("/open311/v2/requests.json", {"api_key": "", "service_code": "noise", "lat": "1", "long": "1"}),
                    403, "api_key", "no keys configured")
        st, _ = s.json("GET", "/open311/v2/services.json")
        check(st == 200, "GET still works without keys")
    finally:
        s.stop()


def test_kill9(db):
    print("kill -9 mid-stream: every acknowledged report is there after restart", flush=True)
    s = Server(db)
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker):
        c = s.conn()
        i = 0
        while not stop.is_set():
            key = f"k9-{worker}-{i}"
            body = urllib.parse.urlencode({"api_key": KEY, "service_code": "illegal_parking", "lat": 22.6 + worker * 0.01,
                                           "long": 114.1 + i * 0.001, "description": key})
            try:
                c.request("POST", "/open311/v2/requests.json", body,
                          {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": key})
                r = c.getresponse()
                data = r.read()
            except Exception:
                return
            if r.status == 201:
                with lock:
                    acked[key] = json.loads(data)[0]["service_request_id"]
            i += 1

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for w in range(8):
            pool.submit(client, w)
        time.sleep(2.0)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        stop.set()
    check(len(acked) > 50, f"enough acknowledged before the kill ({len(acked)})")
    s2 = Server(db)
    try:
        missing = []
        for key, rid in acked.items():
            st, body = s2.json("GET", f"/open311/v2/requests/{rid}.json")
            if st != 200 or body[0]["description"] != key:
                missing.append((key, rid, st))
        check(not missing, f"{len(missing)} of {len(acked)} acknowledged reports lost: {missing[:5]}")
        # Retrying every acknowledged POST after the restart creates nothing new.
        _, before = s2.json("GET", "/api/v1/stats")
        for key, rid in list(acked.items())[:100]:
            st, body = s2.post_form("/open311/v2/requests.json", {"api_key": KEY, "service_code": "illegal_parking",
                                    "lat": 22.6, "long": 114.1, "description": key}, {"Idempotency-Key": key})
            if st != 200 or body[0]["service_request_id"] != rid:
                check(False, f"retry of {key} after restart: {st} {body}")
                break
        _, after = s2.json("GET", "/api/v1/stats")
        check(after["reports"] == before["reports"], "retries after restart stored nothing new")
        print(f"  {len(acked)} acknowledged, {after['reports']} stored after restart", flush=True)
    finally:
        check(s2.stop() == 0, "SIGTERM exits 0")


def upgrade(port, origin=None):
    """The status of a WebSocket handshake on /ws, sent by hand (with or without an Origin)."""
    h = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    if origin:
        h["Origin"] = origin
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/ws", headers=h)
    status = c.getresponse().status
    c.close()
    return status


def test_origin_and_cors(db):
    print("the live feed checks Origin; CORS is off unless an origin is allowed", flush=True)
    s = Server(db)
    try:
        check(upgrade(s.port) == 101, "a client without Origin opens the feed")
        check(upgrade(s.port, f"http://127.0.0.1:{s.port}") == 101, "the served host's own page opens the feed")
        check(upgrade(s.port, "http://evil.example") == 403, "another site's page may not open the feed")
        c = s.conn()
        c.request("GET", "/api/v1/stats", headers={"Origin": "http://evil.example"})
        r = c.getresponse()
        r.read()
        check(r.status == 200 and r.getheader("Access-Control-Allow-Origin") is None, "CORS is off by default")
    finally:
        s.stop()
    s = Server(db, args=("--allow-origin", "https://ops.example"))
    try:
        check(upgrade(s.port, "https://ops.example") == 101, "a listed origin opens the feed")
        check(upgrade(s.port, "http://evil.example") == 403, "an unlisted one still may not")
        c = s.conn()
        c.request("OPTIONS", "/api/v1/reports", headers={"Origin": "https://ops.example",
                                                         "Access-Control-Request-Method": "POST"})
        r = c.getresponse()
        r.read()
        check(r.status == 204 and r.getheader("Access-Control-Allow-Origin") == "https://ops.example"
              and "X-API-Key" in (r.getheader("Access-Control-Allow-Headers") or ""), "CORS preflight answered")
        c.request("GET", "/api/v1/stats", headers={"Origin": "http://evil.example"})
        r = c.getresponse()
        r.read()
        check(r.getheader("Access-Control-Allow-Origin") is None, "no CORS for an unlisted origin")
    finally:
        s.stop()


def test_descriptor_limit(db):
    print("at the file-descriptor limit: idle connections are shed and new clients are served", flush=True)
    s = Server(db, nofile=64)
    idle = []
    try:
        # Far more idle keep-alive connections than 64 descriptors allow; each is accepted, then held open.
        for _ in range(150):
            sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            idle.append(sock)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        try:
            c.request("GET", "/api/v1/health")
            r = c.getresponse()
            check(r.status == 200, f"a new client is served beside 150 idle connections ({r.status})")
            r.read()
        except OSError as e:
            check(False, f"a new client is served beside 150 idle connections ({e})")
        c.close()
        # The oldest idle connections were closed by the server to make room.
        idle[0].settimeout(10)
        try:
            closed = idle[0].recv(1) == b""
        except OSError:
            closed = True
        check(closed, "the oldest idle connection was closed to make room")
        check(s.proc.poll() is None, "the server is still running")
    finally:
        for sock in idle:
            sock.close()
        s.stop()


def main():
    if not os.path.isdir(SCHEMAS):
        print(f"note: {SCHEMAS} is missing; JSON Schema checks are skipped, the rest runs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        s = Server(os.path.join(tmp, "a.db"))
        try:
            test_open311(s)
            test_bad_input(s)
            test_idempotency(s)
            test_xml_forbidden_text(s)
            test_lifecycle(s)
        finally:
            check(s.stop() == 0, "SIGTERM exits 0")
        test_no_keys(os.path.join(tmp, "b.db"))
        test_origin_and_cors(os.path.join(tmp, "d.db"))
        test_descriptor_limit(os.path.join(tmp, "e.db"))
        test_kill9(os.path.join(tmp, "c.db"))
    if FAILURES:
        print(f"{len(FAILURES)} failures")
        sys.exit(1)
    print("all server checks passed")


main()
