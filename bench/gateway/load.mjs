// Open-loop load at a fixed rate (requests start on schedule whether or not earlier ones have finished, so queueing
// shows in the latency), keep-alive connections, latency percentiles; or one long stream, counting chunks/s.
// Usage: node load.mjs latency URL KEY RATE SECONDS   |   node load.mjs stream URL KEY CHUNKS
import http from "node:http";

const [mode, url, key, a, b] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const target = new URL(url + "/v1/chat/completions");

function post(model) {
  const body = JSON.stringify({ model, stream: model.startsWith("stream-"), messages: [{ role: "user", content: "路灯不亮" }] });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent,
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}`, "Content-Length": Buffer.byteLength(body) } },
      (res) => {
        let chunks = 0;
        let bytes = 0;
        res.on("data", (c) => { chunks++; bytes += c.length; });
        res.on("end", () => resolve({ status: res.statusCode, chunks, bytes }));
      });
    req.on("error", reject);
    req.end(body);
  });
}

if (mode === "latency") {
  const rate = Number(a);
  const seconds = Number(b);
  const total = rate * seconds;
  const lat = [];
  let errors = 0;
  const t0 = performance.now();
  const pending = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const start = performance.now();
    pending.push(post("bench").then((r) => {
      if (r.status !== 200) errors++;
      else if (i >= rate) lat.push(performance.now() - start);  // the first second warms up
    }, () => errors++));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((x, y) => x - y);
  const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(3);
  console.log(JSON.stringify({ achieved_rps: +(total / elapsed).toFixed(0), n: lat.length, errors,
    p50_ms: +p(0.5), p90_ms: +p(0.9), p99_ms: +p(0.99), max_ms: +lat[lat.length - 1].toFixed(3) }));
} else {
  const n = Number(a);
  const t0 = performance.now();
  const r = await post(`stream-${n}`);
  const s = (performance.now() - t0) / 1000;
  const events = Math.round(r.bytes / 150);
  console.log(JSON.stringify({ status: r.status, chunks_sent: n, seconds: +s.toFixed(3), chunks_per_s: Math.round(n / s) }));
}
agent.destroy();
