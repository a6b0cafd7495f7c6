#!/usr/bin/python3
"""The large-model reply backend against a small local HTTP server speaking the OpenAI chat-completions protocol.

The server's behaviour is picked by the model name: a good draft, a draft that drops the case number, a slow
answer (past the client's timeout), HTTP 500, a body that is not JSON, and JSON without choices. Each must give
the model's draft only when it is good and keeps the facts, and the template otherwise, with the reason; the
command must exit 0 in every case (the citizen always gets an answer).
Usage: tests/llm_test.py path/to/citybrain
"""
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN = sys.argv[1]
KEY = "sk-test-123"
CASE = "20260615-0042"
DEADLINE_MS = "1781492400000"  # 2026-06-15 11:00 Beijing time
seen = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        model = body["model"]
        user = body["messages"][-1]["content"]
        draft = f"您好，感谢您的反映！我们已受理（案件编号{CASE}），区城管局将于2026年6月15日11:00前处理并回复您。"
        if model == "slow":
            time.sleep(3)
        if model == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"internal error")
            return
        if model == "garbage":
            payload = b"<html>not json</html>"
        elif model == "nochoices":
            payload = json.dumps({"id": "x", "choices": []}).encode()
        else:
            if model == "drop":
                draft = "您好，问题已收到，我们会尽快处理。"
            assert "市民留言" in user and CASE in user
            payload = json.dumps({"id": "chatcmpl-1", "object": "chat.completion",
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": draft},
                                               "finish_reason": "stop"}]}, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/v1"
failures = 0


def reply(model, extra=(), env_key=KEY):
    env = {"PATH": "/usr/bin:/bin"}
    if env_key:
        env["CITYBRAIN_LLM_KEY"] = env_key
    args = [BIN, "nlp", "reply", "--text", "龙城大道与吉祥路交叉口有流动商贩占道摆摊", "--case", CASE,
            "--department", "区城管局", "--deadline-ms", DEADLINE_MS, "--json", *extra]
    if model is not None:
        args += ["--llm-url", url, "--llm-model", model, "--llm-timeout", "1"]
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip().startswith("{") else None), p.stderr


def check(name, cond, detail=""):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL {name}: {detail}")
    else:
        print(f"ok   {name}")


rc, out, err = reply(None)
check("off by default: the template", rc == 0 and out["source"] == "template" and CASE in out["reply"]
      and "2026年6月15日11:00" in out["reply"], (rc, out, err))
rc, out, err = reply("good")
check("a good draft is used", rc == 0 and out["source"] == "model" and "感谢您的反映" in out["reply"], (rc, out, err))
check("protocol: POST /v1/chat/completions with the bearer key",
      seen and seen[-1]["path"] == "/v1/chat/completions" and seen[-1]["auth"] == f"Bearer {KEY}"
      and seen[-1]["body"]["messages"][0]["role"] == "system", seen[-1:])
rc, out, err = reply("good", env_key=None)
check("no key: no Authorization header", rc == 0 and seen[-1]["auth"] is None, seen[-1:])
for model, reason in [("drop", "dropped"), ("slow", "no answer within 1 s"), ("error", "HTTP 500"),
                      ("garbage", "not JSON"), ("nochoices", "choices[0].message.content")]:
    rc, out, err = reply(model)
    check(f"{model}: the template, with the reason", rc == 0 and out["source"] == "template"
          and out["reply"] == out["template"] and reason in out["fallback_reason"], (rc, out, err))
# Nobody listening: the template.
rc, out, err = reply(None, ["--llm-url", "http://127.0.0.1:1/v1"])
check("nothing listening: the template", rc == 0 and out["source"] == "template" and out["fallback_reason"], (rc, out))
# Bad configuration is refused by name (exit 2).
for extra, field in [(["--llm-url", "https://x/v1"], "--llm-url"), (["--llm-url", "http://h:99999/v1"], "--llm-url"),
                     (["--llm-url", url, "--llm-timeout", "0"], "--llm-timeout")]:
    rc, out, err = reply(None, extra)
    check(f"bad {field} refused", rc == 2 and field in err, (rc, err))
rc, out, err = reply(None, ["--deadline-ms", "soon"])
check("bad --deadline-ms refused", rc == 2 and "--deadline-ms" in err, (rc, err))
server.shutdown()
sys.exit(1 if failures else 0)
