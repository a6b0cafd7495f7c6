// The model gateway through the official openai npm client: chat, streams, errors, failover, the breaker and its
// recovery, timeouts, malformed upstreams, budgets that run out mid-stream, a key's limit under concurrent load,
// embeddings. Upstreams A and B are tests/gateway/upstream.py. Prints the number of calls it made (the audit log
// must hold as many rows, even after kill -9).
// Usage: node openai_test.mjs GATEWAY_URL UPSTREAM_A_URL UPSTREAM_B_URL
import OpenAI from "openai";
import assert from "node:assert/strict";

const [gateway, upA, upB] = process.argv.slice(2);
let calls = 0;
let failures = 0;
const client = (key) => new OpenAI({ apiKey: key, baseURL: gateway + "/v1", maxRetries: 0, timeout: 20000 });
const main = client("main-key-0001");

async function control(up, mode) {
  const r = await fetch(up + "/control", { method: "POST", body: JSON.stringify({ mode }) });
  assert.equal(r.status, 200);
}
async function hits(up) {
  return (await (await fetch(up + "/stats")).json()).hits;
}
async function status() {
  calls++;
  const r = await fetch(gateway + "/v1/gateway/status", { headers: { Authorization: "Bearer main-key-0001" } });
  assert.equal(r.status, 200);
  const doc = await r.json();
  return Object.fromEntries(doc.upstreams.map((u) => [u.name, u]));
}
async function chat(c, model, text, extra = {}) {
  calls++;
  return c.chat.completions
    .create({ model, messages: [{ role: "user", content: text }], ...extra })
    .withResponse();
}
async function expectError(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIError, `an APIError, not ${e}`);
    assert.equal(e.status, status, `${e.message}`);
    if (code) assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}
async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

await step("models are listed for the key", async () => {
  calls++;
  const ids = [];
  for await (const m of main.models.list()) ids.push(m.id);
  assert.ok(ids.includes("citybrain-local") && ids.includes("echo"), ids.join(","));
});

await step("chat through the preferred upstream, usage passed on", async () => {
  const { data, response } = await chat(main, "echo", "你好");
  assert.equal(data.choices[0].message.content, "A: 你好");
  assert.equal(response.headers.get("x-citybrain-upstream"), "A");
  assert.equal(data.usage.prompt_tokens, 7);
});

await step("citybrain-local answers a citizen with no upstream at all", async () => {
  const { data } = await chat(main, "citybrain-local", "小区门口井盖丢了，很危险", {
    response_format: { type: "json_object" },
  });
  const analysis = JSON.parse(data.choices[0].message.content);
  assert.ok(analysis.department_name.length > 0);
  assert.ok(analysis.reply.includes(analysis.department_name));
});

await step("a long conversation (200 kB, past the case API's 64 kB limit) is a model call like any other", async () => {
  calls++;
  const data = await main.chat.completions.create({
    model: "citybrain-local",
    messages: [{ role: "system", content: "政策原文".repeat(17000) }, { role: "user", content: "路灯坏了" }],
  });
  assert.ok(data.choices[0].message.content.includes("路灯"));
  assert.ok(data.usage.prompt_tokens > 60000);
});

await step("a stream is relayed event by event, in order", async () => {
  calls++;
  const stream = await main.chat.completions.create({
    model: "echo",
    stream: true,
    messages: [{ role: "user", content: "路灯不亮了" }],
  });
  let text = "";
  let events = 0;
  for await (const chunk of stream) {
    events++;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(text, "A: 路灯不亮了");
  assert.ok(events >= 8, `${events} events`);  // one per character: nothing was buffered into one
});

await step("a stream from citybrain-local", async () => {
  calls++;
  const stream = await main.chat.completions.create({
    model: "citybrain-local",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: "噪音扰民" }],
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(text.includes("承办部门"), text);
  assert.ok(usage && usage.total_tokens > 0);
});

await step("errors arrive as the client's typed errors", async () => {
  await expectError(chat(client("wrong-key-0001"), "echo", "x"), 401, "invalid_api_key");
  await expectError(chat(main, "no-such-model", "x"), 404, "model_not_found");
  calls++;
  const e = await expectError(main.chat.completions.create({ model: "echo", messages: [] }), 400);
  assert.equal(e.param, "messages");
  await expectError(chat(client("local-only-0001"), "echo", "x"), 403, "model_not_allowed");
  // The upstream refuses the request itself: its error is the client's, and no failover is attempted.
  const before = await hits(upB);
  await expectError(chat(main, "bad-request", "x"), 400);
  assert.equal(await hits(upB), before);
});

await step("failover: A fails, B answers", async () => {
  await control(upA, "fail");
  const { data, response } = await chat(main, "echo", "一");
  assert.equal(data.choices[0].message.content, "B: 一");
  assert.equal(response.headers.get("x-citybrain-upstream"), "B");
});

await step("the breaker opens after two failures and stops sending to A", async () => {
  await chat(main, "echo", "二");  // A's second failure: its breaker opens
  assert.equal((await status()).A.breaker, "open");
  const before = await hits(upA);
  for (let i = 0; i < 5; i++) {
    const { data } = await chat(main, "echo", "三");
    assert.equal(data.choices[0].message.content, "B: 三");
  }
  assert.equal(await hits(upA), before, "an open breaker sent nothing to A");
});

await step("after its cool-down the breaker lets one trial through, and a healthy A is re-admitted", async () => {
  await control(upA, "ok");
  await new Promise((r) => setTimeout(r, 1300));  // cool-down 1 s
  assert.equal((await status()).A.breaker, "half_open");
  const { data } = await chat(main, "echo", "四");
  assert.equal(data.choices[0].message.content, "A: 四");
  assert.equal((await status()).A.breaker, "closed");
});

await step("a stalled upstream is given up after its timeout and the next one answers", async () => {
  await control(upA, "stall");
  const { data } = await chat(main, "echo", "五");
  assert.equal(data.choices[0].message.content, "B: 五");
  await control(upA, "ok");
});

await step("a malformed answer fails over; so does a stream that ends before its first event", async () => {
  await control(upA, "malformed");
  let r = await chat(main, "echo", "六");
  assert.equal(r.data.choices[0].message.content, "B: 六");
  await control(upA, "empty");
  calls++;
  const stream = await main.chat.completions.create({
    model: "echo",
    stream: true,
    messages: [{ role: "user", content: "七" }],
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  assert.equal(text, "B: 七");
  await control(upA, "ok");
  await new Promise((r) => setTimeout(r, 1300));  // let A's breaker (two failures) cool down
  r = await chat(main, "echo", "八");
  assert.equal(r.data.choices[0].message.content, "A: 八");
});

await step("every upstream down (no local fallback for this model): 502", async () => {
  await control(upA, "fail");
  await control(upB, "fail");
  await expectError(chat(main, "echo", "九"), 502, "upstream_unavailable");
  await control(upA, "ok");
  await control(upB, "ok");
  await new Promise((r) => setTimeout(r, 1300));
});

await step("a budget that runs out mid-stream stops the stream; the next call gets 429 with Retry-After", async () => {
  const small = client("small-key-0001");
  calls++;
  const stream = await small.chat.completions.create({
    model: "long",
    stream: true,
    messages: [{ role: "user", content: "写长一点" }],
  });
  let text = "";
  let error = null;
  try {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof OpenAI.APIError, `the stream ended with an error, not ${error}`);
  assert.ok(text.length > 0 && text.length < 200, `${text.length} characters before the budget ran out`);
  const e = await expectError(chat(small, "echo", "x"), 429, "budget_exhausted");
  assert.ok(Number(e.headers["retry-after"]) > 0);
});

await step("a key's requests per minute hold under concurrent load", async () => {
  const busy = client("busy-key-0001");
  const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => chat(busy, "echo", `${i}`)));
  const ok = results.filter((r) => r.status === "fulfilled").length;
  const limited = results.filter((r) => r.status === "rejected" && r.reason.status === 429);
  assert.equal(ok, 10);
  assert.equal(limited.length, 20);
  for (const r of limited) assert.ok(Number(r.reason.headers["retry-after"]) >= 1);
});

await step("embeddings from citybrain-local and from an upstream", async () => {
  calls++;
  const local = await main.embeddings.create({ model: "citybrain-local", input: ["井盖丢了", "路灯不亮"] });
  assert.equal(local.data.length, 2);
  assert.equal(local.data[0].embedding.length, 256);
  calls++;
  const up = await main.embeddings.create({ model: "emb", input: "abc", encoding_format: "float" });
  assert.deepEqual(up.data[0].embedding, Array(8).fill(3));
});

await step("a client that leaves mid-stream does not harm the gateway", async () => {
  calls++;
  const stream = await main.chat.completions.create({
    model: "long",
    stream: true,
    messages: [{ role: "user", content: "x" }],
  });
  let n = 0;
  for await (const chunk of stream) {
    if (++n === 5) break;  // closes the connection
  }
  const { data, response } = await chat(main, "echo", "还在吗");
  assert.equal(data.choices[0].message.content, "A: 还在吗", response.headers.get("x-citybrain-failover"));
});

console.log(`calls ${calls}`);
console.log(failures === 0 ? "openai client: all passed" : `openai client: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
