#!/usr/bin/env python3
"""The resident's vault end to end (issue 20): `citybrain vault serve` on loopback, the resident's calls over HTTP,
departments' requests through `citybrain vault request` (signed, sealed, receipts verified), refusals by field,
kill -9 while records and releases are being written, the audit command on an intact and a tampered file, and a
truncated file. Usage: vault_test.py CITYBRAIN"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import FAILED, call, check, free_port, start  # noqa: E402

BIN = os.path.abspath(sys.argv[1])
PASS = "a long passphrase for the home box"
work = tempfile.mkdtemp(prefix="vault_e2e_")
db = os.path.join(work, "vault.sqlite")
env = dict(os.environ, CITYBRAIN_VAULT_PASSPHRASE=PASS)
log = os.path.join(work, "serve.log")


def cb(*args, with_pass=True):
    r = subprocess.run([BIN, "vault", *args], capture_output=True, text=True, timeout=60,
                       env=env if with_pass else {k: v for k, v in env.items() if k != "CITYBRAIN_VAULT_PASSPHRASE"},
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def serve(port):
    return start([BIN, "vault", "serve", "--db", db, "--port", str(port), "--access-log", ""], port, log)


# --- init; no passphrase is a clear error -------------------------------------------------------------------
rc, out, err = cb("init", "--db", db, with_pass=False)
check(rc == 2 and "passphrase" in err, f"init without a passphrase exits 2 naming it: {rc} {err}")
rc, out, err = cb("init", "--db", db)
check(rc == 0 and "vault key" in out, f"init: {rc} {out} {err}")
vault_key = out.split("vault key ")[1].split()[0]
rc, _, err = cb("init", "--db", db)
check(rc == 2 and "exists" in err, f"a second init is refused: {rc} {err}")
police_key, health_key = os.path.join(work, "police.key"), os.path.join(work, "health.key")
rc, police_pk, _ = cb("keygen", "--name", "区公安分局", "--out", police_key)
check(rc == 0, "keygen police")
rc, health_pk, _ = cb("keygen", "--name", "社区健康服务中心", "--out", health_key)
police_pk, health_pk = police_pk.strip(), health_pk.strip()

port = free_port()
proc = serve(port)
base = f"http://127.0.0.1:{port}"

# --- locked until the resident unlocks -------------------------------------------------------------------------
s, body = call(port, "GET", "/vault/v1/status")
check(s == 200 and body.get("locked") is True, f"a vault serves locked: {s} {body}")
check("records" not in body and body.get("vault_key") == vault_key, f"strangers see the keys, not the counts: {body}")
s, body = call(port, "POST", "/vault/v1/records", {"type": "identity", "fields": {"name": "x"}})
check(s == 423, f"records while locked: 423, got {s} {body}")
s, body = call(port, "POST", "/vault/v1/unlock", {"passphrase": "not the passphrase"})
check(s == 403 and body.get("field") == "passphrase", f"wrong passphrase: 403 naming it: {s} {body}")
s, body = call(port, "POST", "/vault/v1/unlock", {"pass": PASS})
check(s == 400 and body.get("field") == "passphrase", f"unlock without the field: {s} {body}")
s, body = call(port, "POST", "/vault/v1/unlock", {"passphrase": PASS})
check(s == 200 and len(body.get("token", "")) == 32, f"unlock: {s} {body}")
token = body.get("token")
s, body = call(port, "GET", "/vault/v1/records", key="0" * 32)
check(s == 401, f"a wrong token: 401, got {s}")
s, body = call(port, "GET", "/vault/v1/status", key=token)
check(s == 200 and body.get("locked") is False and body.get("records") == 0, f"the resident's status: {s} {body}")

# --- records ---------------------------------------------------------------------------------------------------
s, body = call(port, "POST", "/vault/v1/records",
               {"type": "identity", "fields": {"name": "张三", "id_number": "440307199001011234"}}, key=token)
check(s == 201 and "id" in body, f"put identity: {s} {body}")
s, _ = call(port, "POST", "/vault/v1/records",
            {"type": "residence_permit", "fields": {"number": "RP-88", "expires": "2027-06-30"}}, key=token)
check(s == 201, "put residence permit")
s, body = call(port, "POST", "/vault/v1/records", {"type": "passport", "fields": {"n": "1"}}, key=token)
check(s == 400 and body.get("field") == "type", f"an unknown type is refused by field: {s} {body}")
s, body = call(port, "POST", "/vault/v1/records", {"type": "identity", "fields": {"Bad Name": "1"}}, key=token)
check(s == 400 and body.get("field") == "fields.Bad Name", f"a bad field name: {s} {body}")

# --- consent -----------------------------------------------------------------------------------------------------
grant_body = {"department": police_pk, "department_name": "区公安分局", "scope": ["identity.name", "residence_permit"],
              "purpose": "居住证续签", "expires": "2030-01-01T00:00:00+08:00", "uses": 50}
s, body = call(port, "POST", "/vault/v1/grants", dict(grant_body, expires="next week"), key=token)
check(s == 400 and body.get("field") == "expires", f"a bad expiry: {s} {body}")
s, body = call(port, "POST", "/vault/v1/grants", dict(grant_body, scope=["identity.name", "bank.account"]), key=token)
check(s == 400 and body.get("field") == "scope[1]", f"a bad scope entry: {s} {body}")
s, body = call(port, "POST", "/vault/v1/grants", grant_body, key=token)
check(s == 201 and len(body.get("id", "")) == 32, f"grant: {s} {body}")
grant = body.get("id", "")


def request(key, fields, purpose="居住证续签", case="CASE-1", grant_id=None):
    return cb("request", "--key", key, "--url", base, "--grant", grant_id or grant, "--fields", fields,
              "--purpose", purpose, "--case", case, "--vault-key", vault_key, "--json")


rc, out, err = request(police_key, "identity.name,residence_permit.expires")
check(rc == 0, f"a release within the grant: {rc} {err}")
if rc == 0:
    got = json.loads(out)
    fields = [r["fields"] for r in got["data"]["records"]]
    check(fields == [{"name": "张三"}, {"expires": "2027-06-30"}], f"exactly the fields asked for: {fields}")
    check("440307199001011234" not in out, "nothing outside the request is released")
rc, out, err = request(police_key, "identity.name,identity.id_number")
check(rc == 4 and json.loads(out).get("field") == "fields[1]", f"one field more than granted: {rc} {out} {err}")
rc, out, err = request(health_key, "identity.name")
check(rc == 4 and json.loads(out).get("field") == "department", f"another department's key: {rc} {out}")
rc, out, err = request(police_key, "identity.name", purpose="治安调查")
check(rc == 4 and json.loads(out).get("field") == "purpose", f"another purpose: {rc} {out}")
s, body = call(port, "POST", "/vault/v1/releases", {"payload": "{}", "signature": "AAAA"})
check(s == 400 and body.get("field") == "body.signature", f"a malformed request names its field: {s} {body}")
s, body = call(port, "POST", "/vault/v1/releases", b"\xff\xfe not json", content_type="application/json")
check(s == 400 and body.get("field") == "body", f"a body that is not JSON: {s} {body}")

# --- kill -9 while records and releases are written -------------------------------------------------------------
acked_records, acked_receipts, stop = [], [], threading.Event()


def put_records():
    i = 0
    while not stop.is_set():
        try:
            st, b = call(port, "POST", "/vault/v1/records",
                         {"type": "health_notes", "fields": {"note": f"血压 {i}"}}, key=token)
        except OSError:
            return
        if st == 201:
            acked_records.append(b["id"])
        i += 1


def releases():
    while not stop.is_set():
        rc_, out_, _ = request(police_key, "identity.name")
        if rc_ == 0:
            acked_receipts.append(json.loads(out_)["receipt"])


threads = [threading.Thread(target=put_records), threading.Thread(target=releases)]
for t in threads:
    t.start()
# Kill once enough is acknowledged (a loaded or sanitized build is slower), while both writers are still writing.
deadline = time.time() + 120
while time.time() < deadline and (len(acked_receipts) < 3 or len(acked_records) < 20):
    time.sleep(0.05)
time.sleep(0.2)
proc.kill()  # SIGKILL mid-write
proc.wait()
stop.set()
for t in threads:
    t.join()
check(len(acked_records) > 10 and len(acked_receipts) > 2,
      f"writes were acknowledged before the kill: {len(acked_records)} records, {len(acked_receipts)} releases")
proc = serve(port)
s, body = call(port, "POST", "/vault/v1/unlock", {"passphrase": PASS})
token = body.get("token")
s, body = call(port, "GET", "/vault/v1/records", key=token)
ids = {r["id"] for r in body} if s == 200 else set()
lost = [i for i in acked_records if i not in ids]
check(s == 200 and not lost, f"every acknowledged record survives kill -9: {len(lost)} of {len(acked_records)} lost")
s, grants = call(port, "GET", "/vault/v1/grants", key=token)
check(s == 200 and grants and grants[0]["used"] >= len(acked_receipts) + 1,
      f"every acknowledged release is counted against the grant: {grants[0]['used'] if grants else None} "
      f"< {len(acked_receipts) + 1}")
s, body = call(port, "DELETE", f"/vault/v1/grants/{grant}", key=token)
check(s == 204, f"revoke: {s} {body}")
rc, out, err = request(police_key, "identity.name")
check(rc == 4 and "revoked" in json.loads(out).get("reason", ""), f"a revoked grant: {rc} {out}")
s, body = call(port, "GET", "/vault/v1/audit", key=token)
check(s == 200 and body.get("ok") is True, f"the audit over HTTP: {s} {body}")
for _ in range(5):
    call(port, "POST", "/vault/v1/unlock", {"passphrase": "wrong wrong wrong"})
s, body = call(port, "POST", "/vault/v1/unlock", {"passphrase": PASS})
check(s == 429, f"after five wrong passphrases unlocking pauses: {s} {body}")
proc.terminate()
proc.wait()

# --- the audit: intact, then with every acknowledged receipt in it, then tampered ---------------------------------
rc, out, err = cb("audit", "--db", db, "--vault-key", vault_key, "--all-signatures", "--json", with_pass=False)
rep = json.loads(out) if out.strip() else {}
check(rc == 0 and rep.get("ok") is True, f"audit of the intact file: {rc} {out} {err}")
con = sqlite3.connect(db)
hashes = dict(con.execute("SELECT seq, hex(hash) FROM log").fetchall())
missing = [r["seq"] for r in acked_receipts if hashes.get(r["seq"], "").lower() != r["hash"]]
check(not missing, f"every receipt a department holds is in the log as it was signed: {missing}")
rc, out, _ = cb("audit", "--db", db, with_pass=False)
check(rc == 0 and "区公安分局" in out and "居住证续签" in out, "the audit lists who got what and why")
con.execute("UPDATE log SET entry = replace(entry, 'CASE-1', 'CASE-2') WHERE seq = 4")
con.commit()
con.close()
rc, out, err = cb("audit", "--db", db, "--json", with_pass=False)
rep = json.loads(out) if out.strip() else {}
check(rc == 3 and rep.get("ok") is False and rep.get("first_bad_seq") == 4, f"a tampered entry: {rc} {out} {err}")

# --- a truncated file ------------------------------------------------------------------------------------------------
cut = os.path.join(work, "cut.sqlite")
shutil.copy(db, cut)
with open(cut, "r+b") as f:
    f.truncate(os.path.getsize(cut) // 3)
rc, out, err = cb("records", "--db", cut)
check(rc == 2 and "cut.sqlite" in err, f"a truncated file is an error naming it: {rc} {err}")
rc, out, err = cb("audit", "--db", cut, with_pass=False)
check(rc in (2, 3), f"the audit of a truncated file fails cleanly: {rc} {err}")

shutil.rmtree(work, ignore_errors=True)
if FAILED:
    print(f"{len(FAILED)} failed")
    sys.exit(1)
print(f"vault e2e: ok ({len(acked_records)} records and {len(acked_receipts)} releases acknowledged before kill -9)")
