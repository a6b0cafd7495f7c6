#!/usr/bin/env python3
"""Clinic screening over HTTP: `citybrain serve --clinic-db` on the embedded knowledge base. A session opened from a
parent's words ranks the causes and asks a question; answers move the ranking; a danger sign sends the patient on at
once and ends the questions; bad input is refused by field; a key without the report role is refused; an answered
session survives kill -9 of the server, and the session file holds neither the patient's words nor anything else they
typed. Usage: clinic_test.py CITYBRAIN
"""
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import FAILED, call, check, free_port, start  # noqa: E402

BIN = sys.argv[1]
APP = "clinic-kiosk-key-0123456789"
OPS = "operator-key-0123456789abc"
TEXT = "我家宝宝两岁，咳嗽三天了，晚上更厉害，有点发烧，流鼻涕。孩子叫李小明，电话13800138000"


def main():
    tmp = tempfile.mkdtemp(prefix="cb_clinic_")
    with open(os.path.join(tmp, "keys.txt"), "w") as f:
        f.write(f"{APP} kiosk report\n{OPS} ops operator\n")
    db = os.path.join(tmp, "clinic.db")
    port = free_port()
    args = [BIN, "serve", "--port", str(port), "--db", os.path.join(tmp, "cases.db"),
            "--conversations", os.path.join(tmp, "conversations.db"), "--keys-file", os.path.join(tmp, "keys.txt"),
            "--clinic-db", db]
    log = os.path.join(tmp, "serve.log")
    proc = start(args, port, log)
    try:
        st, s = call(port, "POST", "/api/v1/clinic/sessions", {"text": TEXT}, key=APP)
        check(st == 201, f"open a session: {st} {s}")
        sid = s.get("session_id", "")
        check(len(sid) == 32, f"a 128-bit session id: {sid!r}")
        found = {f["symptom"]: f["answer"] for f in s.get("findings", [])}
        check(found.get("咳嗽") == "yes" and found.get("发烧") == "yes" and found.get("流涕") == "yes",
              f"symptoms from the text: {found}")
        check(s.get("age_months") == 24, f"age from the text: {s.get('age_months')}")
        check(abs(sum(r["probability"] for r in s["ranking"]) - 1) < 1e-6, "the ranking is a distribution")
        check(s["triage"]["care"] == "self_care", f"no red flag yet: {s['triage']}")
        check(s.get("question") and s["question"]["text"], f"a question is asked: {s.get('question')}")

        # Answer the questions it asks; the ranking moves, the count goes up, at most five diagnostic questions.
        asked = 0
        turn = s
        while turn.get("question") and not turn["question"]["safety"] and asked < 10:
            st, turn = call(port, "POST", f"/api/v1/clinic/sessions/{sid}/answers",
                            {"symptom": turn["question"]["symptom"], "answer": "no"}, key=APP)
            check(st == 200, f"answer: {st} {turn}")
            asked += 1
        check(1 <= asked <= 5, f"diagnostic questions asked: {asked}")
        check(turn["questions_asked"] == asked, f"the session counts them: {turn['questions_asked']} vs {asked}")

        # A danger sign: refer now, with the rule's reason, and no more questions.
        st, red = call(port, "POST", f"/api/v1/clinic/sessions/{sid}/answers", {"symptom": "呼吸困难", "answer": "是"},
                       key=APP)
        check(st == 200 and red["triage"]["care"] == "refer_now", f"breathing difficulty refers now: {red.get('triage')}")
        check(red["triage"]["flags"] and red["triage"]["flags"][0]["rule"] == "breathing_difficulty",
              f"the rule is named: {red['triage'].get('flags')}")
        check(red.get("question") is None, "no question after a referral")

        # Bad input, by field.
        for body, field in [({"text": ""}, "text"), ({"text": 3}, "text"), ({}, "text"),
                            ({"text": "咳嗽", "age_months": "two"}, "age_months"),
                            ({"text": "咳嗽", "age_months": -1}, "age_months"), ({"text": "咳嗽", "name": "x"}, "name")]:
            st, e = call(port, "POST", "/api/v1/clinic/sessions", body, key=APP)
            check(st == 400 and e.get("field") == field, f"refused by {field}: {st} {e}")
        st, e = call(port, "POST", f"/api/v1/clinic/sessions/{sid}/answers", {"symptom": "咳嗽", "answer": "maybe"},
                     key=APP)
        check(st == 400 and e.get("field") == "answer", f"a bad answer: {st} {e}")
        st, e = call(port, "POST", f"/api/v1/clinic/sessions/{sid}/answers", {"symptom": "会飞", "answer": "yes"},
                     key=APP)
        check(st == 400 and e.get("field") == "symptom", f"an unknown symptom: {st} {e}")
        st, e = call(port, "GET", "/api/v1/clinic/sessions/" + "0" * 32, key=APP)
        check(st == 404, f"an unknown session: {st} {e}")
        st, e = call(port, "GET", "/api/v1/clinic/sessions/../../cases", key=APP)
        check(st == 404, f"a malformed session id: {st} {e}")
        st, e = call(port, "POST", "/api/v1/clinic/sessions", {"text": "咳嗽"}, key=OPS)
        check(st == 403, f"a key without the report role: {st} {e}")
        st, e = call(port, "POST", "/api/v1/clinic/sessions", {"text": "咳嗽"})
        check(st in (401, 403), f"no key: {st} {e}")
        st, e = call(port, "DELETE", f"/api/v1/clinic/sessions/{sid}", key=APP)
        check(st == 405, f"DELETE is not allowed: {st}")

        # kill -9: the acknowledged answers are there after a restart.
        proc.kill()
        proc.wait()
        proc = start(args, port, log)
        st, back = call(port, "GET", f"/api/v1/clinic/sessions/{sid}", key=APP)
        check(st == 200 and back["triage"]["care"] == "refer_now" and back["questions_asked"] == asked,
              f"the session after kill -9: {st} {back.get('triage')} {back.get('questions_asked')}")
    finally:
        proc.kill()
        proc.wait()

    # Nothing the patient typed is kept: not the words, the child's name or the phone number.
    con = sqlite3.connect(db)
    rows = con.execute("select state from clinic_sessions").fetchall()
    check(len(rows) == 1, f"one session stored: {len(rows)}")
    for needle in ["李小明", "13800138000", "咳嗽三天了"]:
        check(all(needle not in r[0] for r in rows), f"the store does not hold {needle!r}")
        check(needle not in open(log, encoding="utf-8", errors="replace").read(), f"the log does not hold {needle!r}")
    print("clinic e2e:", "ok" if not FAILED else f"{len(FAILED)} failures")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
