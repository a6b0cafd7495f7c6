#!/usr/bin/env python3
"""The citizen channel end to end over HTTP: `citybrain serve` with the sample policy documents, a citizen app's key
(report role) and an operator's key. A report becomes a case with its number, department and deadline; a missing
place is asked for and filled by the next message; a question is answered from the documents; "how is my case going"
finds the citizen's own case and no one else's; bad messages are refused with the field named; after kill -9 and a
restart the citizen's case and conversation are still there. Prints the latency of 200 messages (p50/p95), which
docs/BENCHMARKS.md records; nothing is timed as a pass condition.
Usage: citizen_test.py CITYBRAIN
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import check, finish  # noqa: E402

BIN = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = "citizen-app-key-0123456789"
OPERATOR = "operator-key-0123456789ab"


def start(tmp, port):
    keys = os.path.join(tmp, "keys.txt")
    with open(keys, "w") as f:
        f.write(f"{APP} app report\n{OPERATOR} ops operator\n")
    return e2e.start([BIN, "serve", "--port", str(port), "--db", os.path.join(tmp, "cases.db"),
                      "--conversations", os.path.join(tmp, "conversations.db"), "--keys-file", keys,
                      "--knowledge", os.path.join(ROOT, "config", "knowledge")],
                     port, os.path.join(tmp, "serve.log"))


def call(port, method, path, body=None, key=APP):
    return e2e.call(port, method, path, body, key)


def say(port, citizen, text, **extra):
    return call(port, "POST", "/api/v1/messages", dict(citizen_id=citizen, text=text, **extra))


def main():
    tmp = tempfile.mkdtemp(prefix="cb_citizen_")
    port = e2e.free_port()
    proc = start(tmp, port)
    try:
        # Refusals, each naming its field.
        st, r = say(port, "", "路灯坏了")
        check(st == 400 and r.get("field") == "citizen_id", f"empty citizen_id: {st} {r}")
        st, r = call(port, "POST", "/api/v1/messages", {"citizen_id": "a", "text": "x", "lat": 22.7})
        check(st == 400 and r.get("field") == "long", f"lat without long: {st} {r}")
        st, r = call(port, "POST", "/api/v1/messages", {"citizen_id": "a", "text": "x", "colour": "red"})
        check(st == 400 and r.get("field") == "colour", f"unknown field: {st} {r}")
        st, r = say(port, "a", "长" * 4001)
        check(st == 400 and r.get("field") == "text", f"a text too long: {st} {r}")
        st, r = call(port, "POST", "/api/v1/messages", {"citizen_id": "a", "text": "路灯坏了"}, key=None)
        check(st == 403 and r.get("field") == "api_key", f"no key: {st} {r}")

        # A report with coordinates: a case, its number, department and deadline in the reply.
        st, r = say(port, "13800000001", "小区门口的井盖丢了，晚上很危险", lat=22.7201, long=114.2468)
        check(st == 200 and r["intent"] == "report" and r["case_id"] > 0, f"report: {st} {r}")
        case = r.get("case_id", 0)
        check(f"案件编号{case}" in r.get("reply", "") and r.get("department_name", "-") in r.get("reply", ""),
              f"the reply names the case and the department: {r.get('reply')}")
        check(r.get("deadline") is not None, "a deadline is given")
        st, c = call(port, "GET", f"/api/v1/cases/{case}", key=OPERATOR)
        check(st == 200 and c.get("department") == r.get("department"), f"the case is in the engine: {st}")

        # A missing place: asked for, then filled.
        st, r = say(port, "13800000002", "路灯不亮了，晚上很黑")
        check(st == 200 and r["intent"] == "ask_location" and r["case_id"] == 0, f"asks where: {r}")
        st, r = say(port, "13800000002", "龙城大道88号门口")
        check(st == 200 and r["intent"] == "report" and r["case_id"] > 0, f"the place fills the report: {r}")

        # Questions: from the documents, or a person.
        st, r = say(port, "13800000003", "居住证去哪里办理？")
        check(st == 200 and r["intent"] == "question" and r["sources"] and r["sources"][0]["heading"] == "办理地点",
              f"a question answered from the documents: {r}")
        st, r = say(port, "13800000003", "明天会下雨吗？")
        check(st == 200 and r["handover"], f"an unanswerable question goes to a person: {r}")

        # The citizen's own case, by topic; not someone else's by number.
        st, r = say(port, "13800000001", "我上周反映的井盖问题处理得怎么样了？")
        check(st == 200 and r["intent"] == "status" and r["case_id"] == case, f"status of my case: {r}")
        st, r = say(port, "13800000009", f"案件编号{case}的进度")
        check(st == 200 and r["case_id"] == 0, f"another citizen's case stays private: {r}")

        # The conversation, for operators only.
        st, h = call(port, "GET", "/api/v1/messages?citizen_id=13800000001", key=OPERATOR)
        check(st == 200 and len(h.get("messages", [])) == 4, f"history: {st} {h}")
        st, h = call(port, "GET", "/api/v1/messages?citizen_id=13800000001", key=APP)
        check(st == 403, f"a citizen app's key cannot read conversations: {st}")

        # Latency of 200 messages (reports, questions, status), one after another.
        texts = ["路灯坏了", "居住证需要什么材料？", "我反映的问题处理得怎么样了", "垃圾投放时间是几点？",
                 "这里有人乱倒建筑垃圾"]
        lat = []
        for i in range(200):
            t0 = time.perf_counter()
            st, r = say(port, f"load-{i % 20}", texts[i % len(texts)], lat=22.72 + (i % 7) * 0.001, long=114.25)
            lat.append((time.perf_counter() - t0) * 1000)
            check(st == 200, f"message {i}: {st} {r}")
        lat.sort()
        print(f"citizen channel latency over 200 messages: p50 {lat[100]:.1f} ms, p95 {lat[190]:.1f} ms, "
              f"max {lat[-1]:.1f} ms", flush=True)

        # kill -9: what was acknowledged is still there after a restart.
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start(tmp, port)
        st, r = say(port, "13800000001", "我反映的井盖问题处理得怎么样了")
        check(st == 200 and r["case_id"] == case, f"after kill -9 the citizen's case is found: {r}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return finish("citizen channel")


if __name__ == "__main__":
    sys.exit(main())
