// A fast OpenAI-compatible upstream for the gateway benchmark (Node's http, keep-alive): a fixed chat completion,
// or a stream of N one-character chunks written as fast as the socket takes them ("stream-N" as the model).
// Usage: node upstream_fast.mjs PORT
import http from "node:http";

const answer = JSON.stringify({
  id: "x", object: "chat.completion", created: 0, model: "bench",
  choices: [{ index: 0, message: { role: "assistant", content: "好的" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const doc = JSON.parse(body);
    const m = /^stream-(\d+)$/.exec(doc.model);
    if (!m) {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(answer) });
      return res.end(answer);
    }
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    const n = Number(m[1]);
    const chunk = (i) =>
      `data: {"id":"x","object":"chat.completion.chunk","created":0,"model":"bench","choices":[{"index":0,"delta":{"content":"字"},"finish_reason":null}]}\n\n`;
    let i = 0;
    const write = () => {
      while (i < n) {
        if (!res.write(chunk(i++))) return res.once("drain", write);
      }
      res.end("data: [DONE]\n\n");
    };
    write();
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));
