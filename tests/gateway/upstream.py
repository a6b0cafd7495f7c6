#!/usr/bin/python3
"""Two OpenAI-compatible upstreams for the gateway test, A and B, on the ports given, in one process.

Each answers /v1/chat/completions and /v1/embeddings, and behaves as told through POST /control
{"mode": "ok" | "fail" | "stall" | "malformed" | "empty"}: a 500, no answer for 5 s, a body that is not JSON, a
stream that ends before its first event. GET /stats gives its hits. Model "echo" answers "NAME: " and the last
user message (streamed one character per event when asked, with usage when stream_options.include_usage);
"long" streams 200 characters 5 ms apart (for budgets that run out mid-stream).
Usage: upstream.py PORT_A PORT_B
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(name, state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, content_type="application/json"):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/stats":
                self.reply(200, json.dumps({"hits": state["hits"], "mode": state["mode"]}))
            else:
                self.reply(404, "{}")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/control":
                state["mode"] = json.loads(body)["mode"]
                return self.reply(200, "{}")
            state["hits"] += 1
            req = json.loads(body)
            state["auth"] = self.headers.get("Authorization")
            mode = state["mode"]
            if mode == "fail":
                return self.reply(500, '{"error":{"message":"upstream down"}}')
            if mode == "stall":
                time.sleep(5)
                return self.reply(200, "{}")
            if mode == "malformed":
                return self.reply(200, '{"choices": [ not json')
            if self.path == "/v1/embeddings":
                inputs = req["input"] if isinstance(req["input"], list) else [req["input"]]
                data = [{"object": "embedding", "index": i, "embedding": [float(len(t))] * 8} for i, t in enumerate(inputs)]
                return self.reply(200, json.dumps({"object": "list", "data": data, "model": req["model"],
                                                   "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
            if req.get("tools"):
                return self.reply(200, json.dumps(agent_turn(req)))
            user = [m for m in req["messages"] if m.get("role") == "user"][-1]["content"]
            text = f"{name}: {user}" if req["model"] != "long" else "字" * 200
            if req.get("model") == "bad-request":
                return self.reply(400, '{"error":{"message":"max_tokens too large","type":"invalid_request_error","param":"max_tokens","code":null}}')
            if not req.get("stream"):
                return self.reply(200, json.dumps({
                    "id": "x", "object": "chat.completion", "created": 0, "model": req["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": len(text), "total_tokens": 7 + len(text)}}))
            # A stream, chunked, written event by event.
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def send(data):
                payload = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                self.wfile.flush()

            try:
                if mode != "empty":
                    for ch in text:
                        send(json.dumps({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": req["model"],
                                         "choices": [{"index": 0, "delta": {"content": ch}, "finish_reason": None}]}))
                        if req["model"] == "long":
                            time.sleep(0.005)
                    if (req.get("stream_options") or {}).get("include_usage"):
                        send(json.dumps({"id": "x", "object": "chat.completion.chunk", "created": 0, "model": req["model"],
                                         "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": len(text),
                                                                  "total_tokens": 7 + len(text)}}))
                    send("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

    return Handler


def agent_turn(req):
    """A model that uses the agent's tools: it files the citizen's message with create_case and then answers with the
    case number. "tools-bad" first calls the tool with a wrong argument type, reads the schema error it gets back, and
    calls again correctly."""
    msgs = req["messages"]
    tool_results = [json.loads(m["content"]) for m in msgs if m.get("role") == "tool"]
    user = [m for m in msgs if m.get("role") == "user"][-1]["content"]

    def message(msg):
        return {"id": "x", "object": "chat.completion", "created": 0, "model": req["model"],
                "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}}

    def call(args):
        return message({"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{len(tool_results)}", "type": "function",
             "function": {"name": "create_case", "arguments": json.dumps(args, ensure_ascii=False)}}]})

    names = {t["function"]["name"] for t in req["tools"]}
    assert "create_case" in names, names
    if not tool_results:
        return call({"text": 123} if req["model"] == "tools-bad" else {"text": user, "address": "龙城大道1号"})
    last = tool_results[-1]
    if "error" in last:
        if len(tool_results) == 1:
            return call({"text": user, "address": "龙城大道1号"})
        return message({"role": "assistant", "content": "抱歉，登记失败：" + last["error"]})
    return message({"role": "assistant",
                    "content": f"已为您登记，案件编号{last['case_id']}，承办部门{last['department']}。"})


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops concurrent connects, which the gateway rightly counts as failures
    daemon_threads = True


def main():
    servers = []
    for name, port in (("A", int(sys.argv[1])), ("B", int(sys.argv[2]))):
        state = {"hits": 0, "mode": "ok"}
        srv = Server(("127.0.0.1", port), make_handler(name, state))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    print("upstreams ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
