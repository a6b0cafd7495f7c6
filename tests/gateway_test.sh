#!/usr/bin/env bash
# The model gateway end to end: tests/gateway/upstream.py plays two upstreams, `citybrain gateway` sits in front,
# and the official openai npm client (pinned by the lockfile; npm ci on first use) calls it. Then kill -9: the
# audit log must hold a row for every call the client made, and a restarted gateway must remember a spent budget.
# Last, `serve` mounts the same /v1/ on the brain's port.
set -euo pipefail
BIN=$(realpath "$1")
HERE=$(cd "$(dirname "$0")/gateway" && pwd)
if [ ! -f "$HERE/node_modules/openai/package.json" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  exec 2>/dev/null  # bash reports each killed job
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

read -r PA PB < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
python3 "$HERE/upstream.py" "$PA" "$PB" > "$TMP/upstream.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$TMP/upstream.out" && break; sleep 0.1; done

# Keys are listed by their SHA-256 only (computed here by Python, not by the code under test).
sha() { python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "$1"; }
cat > "$TMP/gateway.json" <<JSON
{"upstreams": [
  {"name": "A", "url": "http://127.0.0.1:$PA/v1", "models": ["echo", "long", "emb", "bad-request", "tools", "tools-bad"], "priority": 0, "timeout_s": 0.5},
  {"name": "B", "url": "http://127.0.0.1:$PB/v1", "models": ["echo", "long", "emb", "bad-request", "tools", "tools-bad"], "priority": 1, "timeout_s": 0.5}],
 "breaker": {"failures": 2, "cooldown_s": 1},
 "fallback_local": false}
JSON
cat > "$TMP/keys.json" <<JSON
{"keys": [
  {"name": "main", "sha256": "$(sha main-key-0001)", "agent": "test-agent", "team": "qa"},
  {"name": "small", "sha256": "$(sha small-key-0001)", "budget_tokens": 60, "period": "day"},
  {"name": "busy", "sha256": "$(sha busy-key-0001)", "rpm": 10},
  {"name": "local-only", "sha256": "$(sha local-only-0001)", "models": ["citybrain-local"]}]}
JSON

start_gateway() {
  "$BIN" gateway --port 0 --config "$TMP/gateway.json" --keys-file "$TMP/keys.json" --audit "$TMP/audit.db" \
    --access-log "$TMP/access.log" > "$TMP/gateway.out" 2> "$TMP/gateway.err" &
  GW=$!
  PIDS+=($GW)
  for _ in $(seq 100); do grep -q "gateway on" "$TMP/gateway.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(grep -o 'http://[0-9.:]*' "$TMP/gateway.out" | head -1)
  [ -n "$URL" ] || { cat "$TMP/gateway.err"; fail "the gateway did not start"; }
}

start_gateway
if ! node "$HERE/openai_test.mjs" "$URL" "http://127.0.0.1:$PA" "http://127.0.0.1:$PB" | tee "$TMP/client.out"; then
  echo "the audit log's last rows:"
  python3 -c 'import sqlite3,sys
for r in sqlite3.connect(sys.argv[1]).execute("select id, key_name, endpoint, model, upstream, status, latency_ms, error from gateway_audit order by id desc limit 25"): print(*r)' "$TMP/audit.db"
  fail "the openai client's checks"
fi
CALLS=$(sed -n 's/^calls //p' "$TMP/client.out")
sleep 0.5  # the last stream's cut-off is noticed at its next event
kill -9 "$GW"
wait "$GW" 2>/dev/null || true
ROWS=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from gateway_audit").fetchone()[0])' "$TMP/audit.db")
echo "audit after kill -9: $ROWS rows for $CALLS calls"
[ "$ROWS" = "$CALLS" ] || fail "the audit log has $ROWS rows for $CALLS calls"
python3 - "$TMP/audit.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select key_name, agent, endpoint, model, upstream, status, tokens_in, tokens_out, usage_source, content_sha256, content from gateway_audit").fetchall()
assert all(len(r[9]) == 64 for r in rows), "every row has its content hash"
assert all(r[10] is None for r in rows), "no content is kept unless the configuration asks"
main = [r for r in rows if r[0] == "main" and r[2] == "chat.completions" and r[5] == 200]
assert main and all(r[1] == "test-agent" for r in main), "the agent is recorded"
streamed = [r for r in rows if r[0] == "main" and r[3] == "echo" and r[4] == "A" and r[8] == "upstream" and r[7] > 0]
assert streamed, "usage is recorded from upstreams (streams included)"
small = [r for r in rows if r[0] == "small" and r[3] == "long"]
assert small and small[0][6] + small[0][7] >= 60, f"the cut-off stream is charged: {small}"
refused = [r for r in rows if r[5] in (401, 403, 404, 429)]
assert len(refused) >= 20, f"refusals are audited too ({len(refused)})"
print(f"audit rows check: {len(rows)} rows, {len(refused)} refusals, usage and hashes present")
PY

# A restart reads the period's use back from the audit: the spent budget stays spent.
start_gateway
CODE=$(curl -s -o "$TMP/r.json" -w '%{http_code}' "$URL/v1/chat/completions" -H "Authorization: Bearer small-key-0001" \
  -H 'Content-Type: application/json' -d '{"model":"citybrain-local","messages":[{"role":"user","content":"路灯坏了"}]}')
[ "$CODE" = 429 ] || fail "a restarted gateway forgot the spent budget (HTTP $CODE: $(cat "$TMP/r.json"))"
grep -q budget_exhausted "$TMP/r.json" || fail "429 without budget_exhausted"
# Bad configuration is refused by name, with exit code 2.
echo '{"upstreams":[{"name":"x","url":"http://h/v1","models":["m"],"timeout_s":-1}]}' > "$TMP/bad.json"
set +e
"$BIN" gateway --port 0 --config "$TMP/bad.json" --keys-file "$TMP/keys.json" --audit "$TMP/a2.db" 2> "$TMP/bad.err"
RC=$?
set -e
[ "$RC" = 2 ] || fail "a bad configuration exited $RC, not 2"
grep -q 'upstreams\[0\].timeout_s' "$TMP/bad.err" || fail "the error does not name upstreams[0].timeout_s: $(cat "$TMP/bad.err")"

# serve: the same /v1/ on the brain's port, beside the case API.
CITYBRAIN_GATEWAY_KEYS=serve-key-0001 "$BIN" serve --port 0 --db "$TMP/serve.db" --gateway-audit "$TMP/serve-audit.db" \
  2> "$TMP/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "model gateway at" "$TMP/serve.err" 2>/dev/null && break; sleep 0.1; done
SURL=$(grep -o 'http://[0-9.:]*' "$TMP/serve.err" | head -1)
[ -n "$SURL" ] || { cat "$TMP/serve.err"; fail "serve did not start"; }
curl -sf "$SURL/v1/models" -H "Authorization: Bearer serve-key-0001" | grep -q citybrain-local || fail "serve's /v1/models"
curl -sf "$SURL/open311/v2/services.json" | grep -q service_code || fail "serve's Open311 beside the gateway"

# An agent on an upstream model: the OpenAI tool-calling loop through serve's gateway. The model first calls
# create_case with a wrong argument, gets the schema's error back, calls again, and answers with the case number.
mkdir -p "$TMP/agents"
cat > "$TMP/agents/desk.json" <<JSON
{"name": "desk", "department": "*", "instructions": "市民热线前台", "model": "tools-bad",
 "tools": ["create_case", "case_status", "handover_to_human"]}
JSON
CITYBRAIN_API_KEYS=app-key-0123456789abcdef CITYBRAIN_AGENTS_KEY=main-key-0001 "$BIN" serve --port 0 \
  --db "$TMP/agent.db" --conversations "$TMP/agent-conv.db" --agents "$TMP/agents" \
  --gateway-config "$TMP/gateway.json" --gateway-keys-file "$TMP/keys.json" --gateway-audit "$TMP/agent-audit.db" \
  2> "$TMP/agent.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "model gateway at" "$TMP/agent.err" 2>/dev/null && break; sleep 0.1; done
AURL=$(grep -o 'http://[0-9.:]*' "$TMP/agent.err" | head -1)
[ -n "$AURL" ] || { cat "$TMP/agent.err"; fail "serve with agents did not start"; }
curl -s "$AURL/api/v1/messages" -H "X-API-Key: app-key-0123456789abcdef" -H 'Content-Type: application/json' \
  -d '{"citizen_id":"c1","text":"小区门口井盖丢了"}' > "$TMP/agent.json"
python3 - "$TMP/agent.json" "$TMP/agent-conv.db" "$TMP/agent-audit.db" <<'PY'
import json, sqlite3, sys
r = json.load(open(sys.argv[1]))
assert r["intent"] == "report" and r["case_id"] > 0, r
assert f"案件编号{r['case_id']}" in r["reply"], r["reply"]
calls = sqlite3.connect(sys.argv[2]).execute("select tool, ok, result from tool_calls order by id").fetchall()
assert [c[:2] for c in calls] == [("create_case", 0), ("create_case", 1)], calls
assert "arguments.text: must be a string" in calls[0][2], calls[0]
audit = sqlite3.connect(sys.argv[3]).execute(
    "select key_name, model, upstream, status from gateway_audit where endpoint = 'chat.completions'").fetchall()
assert audit == [("main", "tools-bad", "A", 200)] * 3, audit
print(f"agent on an upstream model: case {r['case_id']}; the bad call was refused by the schema, the model retried; "
      f"{len(audit)} model calls audited")
PY
echo "gateway: all passed"
