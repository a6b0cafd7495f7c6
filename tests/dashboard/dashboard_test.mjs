// Browser test of the operations console served by `citybrain run`: playwright-core drives Debian's chromium
// (headless) against real runs on loopback. It checks the map, the live case list, the KPIs, a case's detail
// (place name and timeline, read through the authenticated API), the needs-attention list and an operator's
// action from it, a junction's signal panel, zoom, the Chinese/English switch and the end-of-run summary; then the
// live city (`serve --district` over mosquitto with fleet-sim): units low on battery and lost; and a camera's case
// with its snapshot in the detail.
// Screenshots go to OUT_DIR.
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [bin, outDir] = process.argv.slice(2);
if (!bin || !outDir) {
  console.error('usage: node dashboard_test.mjs CITYBRAIN OUT_DIR');
  process.exit(2);
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

/// Waits until `stderr()` holds the console's address after `label` ("dashboard at", "console at"), with its key in
/// the fragment; fails after `ms` with what the process printed.
function consoleAddress(stderr, label, ms) {
  const pattern = new RegExp(`${label} (http:\\/\\/127\\.0\\.0\\.1:\\d+\\/#key=[0-9a-f]+)`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no console address within ${ms / 1000} s:\n${stderr()}`)), ms);
    const look = () => {
      const m = stderr().match(pattern);
      if (m) { clearTimeout(timer); resolve(m[1]); } else setTimeout(look, 50);
    };
    look();
  });
}

/// Starts `citybrain run` and waits for the console's address (with its key in the fragment).
async function startRun(args, db) {
  const run = spawn(bin, ['run', ...args, '--port', '0', '--hold', '--db', `${outDir}/${db}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  run.stderr.on('data', (d) => { stderr += d; });
  run.stdout.on('data', () => {});
  const exited = new Promise((resolve) => run.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await consoleAddress(() => stderr, 'dashboard at', 10000);
  return { run, url, exited, stderr: () => stderr };
}

async function stopRun(r) {
  r.run.kill('SIGINT');
  const { code, signal } = await r.exited;
  if (code !== 0) fail(`citybrain run exited with ${code ?? signal} after Ctrl-C:\n${r.stderr()}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  // ---- A run in progress. --------------------------------------------------------------------------------
  // Slow enough (x20) that a message waits in the human queue for 15 s of wall time before the brain's own
  // operator would take it.
  const r = await startRun(['--seed', '3', '--sim-hours', '1', '--speedup', '20'], 'console_test.db');
  console.log(`console: ${r.url.replace(/key=.*/, 'key=…')}`);
  const key = r.url.match(/key=([0-9a-f]+)/)[1];
  const base = r.url.replace(/#.*/, '');
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(r.url);
    if (page.url().includes('key=')) fail('the key stays in the address bar');

    // The map: roads drawn from the network's geometry, live frames over the WebSocket.
    await page.waitForFunction(() => window.cbStats.roadsDrawn > 0 && window.cbStats.frames > 2, null, { timeout: 20000 });
    const roads = await page.evaluate(() => window.cbStats.roadsDrawn);
    if (roads < 50) fail(`only ${roads} roads drawn`);
    if ((await page.getAttribute('#conn', 'data-state')) !== 'live') fail('the WebSocket is not connected');
    if ((await page.getAttribute('html', 'lang')) !== 'zh-CN') fail('the console is not in Chinese by default');

    // A citizen message that names no place: the brain cannot place it, so it waits for a person. Its keywords point
    // two ways (parking, and the vending that "占道" alone would mean).
    const posted = await page.evaluate(async ([k]) => {
      const res = await fetch('/api/v1/reports', {
        method: 'POST', headers: { 'X-API-Key': k, 'Content-Type': 'application/json' },
        body: JSON.stringify({ source: 'citizen', description: '楼下长期占道停车，垃圾桶都被挡住了', address_string: '龙岗区' }),
      });
      return { status: res.status, body: await res.json() };
    }, [key]);
    if (posted.status !== 201) fail(`posting a message: ${JSON.stringify(posted)}`);
    const caseId = posted.body.case_id;
    console.log(`message filed as case #${caseId}`);

    // Needs attention shows it with its text and the classifier's guesses, best first with their confidence; the
    // operator files it from there under the guess they confirm (here not the first one).
    await page.fill('#operator', '测试值班员');
    await page.dispatchEvent('#operator', 'change');
    const item = `#attention li[data-id="${caseId}"][data-kind="review"]`;
    await page.waitForSelector(`${item} button[data-category]`, { timeout: 20000 });
    const itemText = await page.textContent(item);
    if (!itemText.includes('垃圾桶')) fail(`the attention item does not show the message: '${itemText}'`);
    const guesses = await page.$$eval(`${item} button[data-category]`,
      (bs) => bs.map((b) => ({ category: b.dataset.category, text: b.textContent })));
    console.log(`guesses shown: ${guesses.map((g) => g.text).join(' | ')}`);
    if (guesses.length < 2 || guesses[0].category !== 'illegal_parking' || !/\d+%/.test(guesses[0].text)) {
      fail(`the guesses are not the classifier's, best first with a confidence: ${JSON.stringify(guesses)}`);
    }
    const chosen = guesses[1].category, chosenName = guesses[1].text.replace(/\s*\d+%$/, '');
    await page.click(`${item} button[data-category="${chosen}"]`);
    await page.waitForSelector('#detail .timeline li[data-action="file"]', { timeout: 10000 });
    const filed = await page.textContent('#detail .timeline li[data-action="file"]');
    if (!filed.includes('测试值班员') || !filed.includes('console') || !filed.includes(`→ ${chosenName}`)) {
      fail(`the filing is not recorded with the operator's name, the console's key and the category: '${filed}'`);
    }
    const asFiled = await page.evaluate(async ([k, id]) =>
      (await fetch(`/api/v1/cases/${id}`, { headers: { 'X-API-Key': k } })).json(), [key, caseId]);
    if (asFiled.category !== chosen || asFiled.status === 'reported') {
      fail(`the case is not filed under the confirmed category: ${asFiled.category} ${asFiled.status}`);
    }
    console.log(`filed from the console as ${chosen}: ${filed.trim()}`);

    // A camera case: its detail says where (a name, never an id) and shows its timeline.
    const other = `#cases tbody tr:not([data-id="${caseId}"])`;
    await page.waitForSelector(other, { timeout: 60000 });
    const first = await page.$eval(`${other}:last-child`, (tr) => ({ id: tr.dataset.id, status: tr.dataset.status }))
      .catch(() => page.$eval(other, (tr) => ({ id: tr.dataset.id, status: tr.dataset.status })));
    await page.click(`#cases tr[data-id="${first.id}"]`);
    await page.waitForSelector('#detail .place', { timeout: 10000 });
    const place = await page.textContent('#detail .place');
    if (!place || place === '–' || /intersection_|gneJ/.test(place)) fail(`case #${first.id} has no place name: '${place}'`);
    const steps = await page.$$eval('#detail .timeline li', (li) => li.length);
    if (steps < 1) fail('the case detail has no timeline');
    console.log(`case #${first.id} at ${place}, ${steps} step(s) in its timeline`);

    // The citizen channel from the console: a message as a citizen gets the agents' answer with a case number,
    // and the case it names opens in the detail.
    await page.fill('#chat-citizen', '13900000001');
    await page.fill('#chat-text', '龙城大道路灯不亮了，晚上很黑');
    await page.click('#chat-form button');
    await page.waitForSelector('#chat-log li.agent', { timeout: 10000 });
    const answer = await page.$eval('#chat-log li.agent:last-child', (li) => ({
      intent: li.dataset.intent, text: li.textContent, link: !!li.querySelector('a') }));
    const asked = answer.intent === 'ask_location';
    if (asked) {
      await page.fill('#chat-text', '龙城大道与龙翔大道路口');
      await page.click('#chat-form button');
      await page.waitForFunction(() => document.querySelectorAll('#chat-log li.agent').length >= 2, null,
        { timeout: 10000 });
    }
    const filedByChat = await page.$eval('#chat-log li.agent:last-child', (li) => ({
      intent: li.dataset.intent, text: li.textContent, id: (li.textContent.match(/#(\d+)/) || [])[1] }));
    if (filedByChat.intent !== 'report' || !filedByChat.id || !filedByChat.text.includes(`案件编号${filedByChat.id}`)) {
      fail(`the chat box did not file the citizen's report: ${JSON.stringify(filedByChat)}`);
    } else {
      await page.click('#chat-log li.agent:last-child a');
      await page.waitForFunction((id) => (document.querySelector('#detail')?.textContent || '').includes(`#${id}`),
        filedByChat.id, { timeout: 10000 });
      console.log(`chat box: ${asked ? 'asked where, then ' : ''}filed case #${filedByChat.id}; its detail opened`);
    }

    // The list follows the brain: that case's status changes.
    await page.selectOption('#f-status', '');
    await page.waitForFunction(([id, status]) => {
      const tr = document.querySelector(`#cases tr[data-id="${id}"]`);
      return tr && tr.dataset.status !== status;
    }, [first.id, first.status], { timeout: 90000 });

    // KPIs hold numbers, the fixed-time baseline included.
    await page.waitForFunction(() => /^\d+(\.\d+)?$/.test(document.getElementById('kpi-att-fixed').textContent),
      null, { timeout: 30000 });
    const kpi = await page.evaluate(() => Object.fromEntries(
      [...document.querySelectorAll('.kpi')].map((k) => [k.dataset.kpi, k.querySelector('b').textContent])));
    console.log(JSON.stringify(kpi));
    if (!/^\d+(\.\d)?$/.test(kpi.att)) fail(`ATT adaptive is '${kpi.att}'`);
    if (!/^\d+ \(\d+\)$/.test(kpi.cases)) fail(`cases is '${kpi.cases}'`);
    if (!/^\d+(\.\d)? %$/.test(kpi.deadline)) fail(`deadlines met is '${kpi.deadline}'`);

    // A junction: click it and see its signal, approach by approach.
    const nodes = await page.evaluate(() => window.cbConsole.signalNodes());
    const box = await page.$eval('#map', (c) => { const b = c.getBoundingClientRect(); return { x: b.left, y: b.top }; });
    const at = await page.evaluate((i) => window.cbConsole.nodeOnScreen(i), nodes[Math.floor(nodes.length / 2)]);
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await page.waitForSelector('#node-info:not([hidden])', { timeout: 5000 });
    // Its last decisions, newest first, accumulate as frames come (the controller decides every few seconds).
    await page.waitForFunction(() => document.querySelectorAll('#node-info .why-signal li').length >= 2, null,
      { timeout: 20000 });
    const nodeText = await page.textContent('#node-info');
    if (!/[红黄绿]/.test(nodeText)) fail(`the junction panel shows no signal: '${nodeText}'`);
    if (/intersection_/.test(nodeText)) fail(`the junction panel shows an id: '${nodeText}'`);
    if (!/各相位(压力|得分)/.test(nodeText) || !/选择相位 \d+ \(\d+: -?\d+/.test(nodeText)) {
      fail(`the junction panel gives no reasons: '${nodeText}'`);
    }
    const times = await page.$$eval('#node-info .why-signal li', (li) => li.map((x) => x.textContent.slice(0, 8)));
    if (!(times[0] > times[1])) fail(`the decisions are not newest first: ${times}`);
    if (!/排队 \d+/.test(nodeText)) fail(`the junction panel shows no queues: '${nodeText}'`);
    console.log(`junction: ${nodeText.replace(/\s+/g, ' ').slice(0, 120)}`);

    // Zoom: the wheel changes the drawn scale.
    const before = await page.evaluate(() => window.cbStats.scale);
    await page.mouse.move(box.x + at.x, box.y + at.y);
    await page.mouse.wheel(0, -400);
    await page.waitForFunction((s) => window.cbStats.scale > s * 1.1, before, { timeout: 5000 });
    console.log(`zoom: scale ${before.toFixed(3)} -> ${(await page.evaluate(() => window.cbStats.scale)).toFixed(3)}`);
    // The scrubber: back to an earlier frame (the clock shows its time), then live again.
    const liveClock = await page.textContent('#clock');
    await page.$eval('#scrub', (r) => { r.value = '0'; r.dispatchEvent(new Event('input')); });
    const pastClock = await page.textContent('#clock');
    if (!(pastClock < liveClock)) fail(`the scrubber did not go back: ${pastClock} vs ${liveClock}`);
    if (await page.isHidden('#scrub-live')) fail('no way back to live while replaying');
    await page.click('#scrub-live');
    await page.waitForFunction((c) => document.getElementById('clock').textContent >= c, liveClock, { timeout: 5000 });
    console.log(`scrubber: ${liveClock} -> ${pastClock} -> live`);

    // A unit: click it and see its task.
    const unitAt = await page.evaluate(() => window.cbConsole.unitOnScreen(0));
    await page.mouse.click(box.x + unitAt.x, box.y + unitAt.y);
    await page.waitForFunction(() => /待命|前往现场|现场处置/.test(document.getElementById('node-info').textContent),
      null, { timeout: 5000 });
    console.log(`unit: ${(await page.textContent('#node-info')).replace(/\s+/g, ' ')}`);
    // A unit under way: its planned route is drawn and its panel says how long it has to go. A message naming a
    // landmark is placed and filed at once, so a unit sets off for it.
    const sent = await page.evaluate(async ([k]) => (await fetch('/api/v1/reports', {
      method: 'POST', headers: { 'X-API-Key': k, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'citizen', description: '龙城小学门口有个井盖缺失，小孩经过很危险！', address_string: '龙岗区' }),
    })).status, [key]);
    if (sent !== 201) fail(`posting a placed message: HTTP ${sent}`);
    await page.waitForFunction(() => window.cbConsole.unitsUnderWay().length > 0, null, { timeout: 60000 });
    const underWay = await page.evaluate(() => {
      const i = window.cbConsole.unitsUnderWay()[0];
      window.cbConsole.selectUnit(i);
      return { text: document.getElementById('node-info').textContent, routes: window.cbStats.routesDrawn };
    });
    if (underWay.routes < 1 || !/规划路线/.test(underWay.text) || !/预计到达还需 \d+:\d\d/.test(underWay.text)) {
      fail(`a unit under way shows no route or arrival time: ${JSON.stringify(underWay)}`);
    }
    console.log(`unit under way: ${underWay.text.replace(/\s+/g, ' ')}`);
    await page.screenshot({ path: `${outDir}/console.png` });

    // Chinese by default; English on the switch.
    const label = () => page.textContent('.kpi[data-kpi="vehicles"] label');
    if ((await label()) !== '在途车辆') fail(`Chinese label is '${await label()}'`);
    await page.click('#lang');
    if ((await label()) !== 'vehicles') fail(`English label is '${await label()}'`);
    if ((await page.getAttribute('html', 'lang')) !== 'en') fail('the page language did not switch');
    await page.screenshot({ path: `${outDir}/console_en.png` });
    await page.click('#lang');
    if (errors.length) fail(`page errors: ${errors.join('; ')}`);
    console.log(`base ${base}: screenshots ${outDir}/console.png, console_en.png`);
  } finally {
    await stopRun(r);
  }

  // ---- A run that ends: the page keeps the summary and says the run finished. ----------------------------
  const e = await startRun(['--seed', '4', '--sim-hours', '0.05', '--speedup', 'max'], 'console_end.db');
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    await page.goto(e.url);
    await page.waitForSelector('#summary:not([hidden])', { timeout: 30000 });
    const summary = await page.textContent('#summary');
    if (!summary.includes('运行结束')) fail(`the summary says '${summary}'`);
    if ((await page.textContent('#conn')) !== '运行结束') fail(`the status says '${await page.textContent('#conn')}'`);
    await page.screenshot({ path: `${outDir}/console_finished.png` });
    console.log(`end of run: ${summary.replace(/\s+/g, ' ')}`);
  } finally {
    await stopRun(e);
  }

  // ---- The live city: serve --district over a real mosquitto, with fleet-sim as the robots. A robot back from a
  // case is low on battery, and a fleet gone silent is lost: both appear under "needs attention". ---------------
  const broker = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
  if (!broker) fail('mosquitto is missing (make deps installs it)');
  else await liveFleet(broker);
} finally {
  await browser.close();
}
if (!process.exitCode) console.log('console test passed');

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function liveFleet(broker) {
  const mqttPort = await freePort();
  const conf = `${outDir}/console_mosquitto.conf`;
  writeFileSync(conf, `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n` +
    (process.getuid && process.getuid() === 0 ? 'user root\n' : ''));
  const procs = [spawn(broker, ['-c', conf], { stdio: 'ignore' })];
  try {
    await new Promise((r) => setTimeout(r, 300));
    const mqtt = `127.0.0.1:${mqttPort}`;
    // serve keeps its store: start from an empty one, or the last run's open cases absorb these reports.
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${outDir}/console_live.db${suffix}`, { force: true });
    const serve = spawn(bin, ['serve', '--district', 'default', '--mqtt', mqtt, '--port', '0',
      '--db', `${outDir}/console_live.db`], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(serve);
    let stderr = '';
    serve.stderr.on('data', (d) => { stderr += d; });
    const url = await consoleAddress(() => stderr, 'console at', 15000);
    // Ten wall seconds of work on site keep the four crews busy, so the robot dogs take the other reports.
    const fleet = spawn(bin, ['fleet-sim', '--mqtt', mqtt, '--speedup', '40', '--handle-s', '400',
      '--battery-drain', '200'], { stdio: 'ignore' });
    procs.push(fleet);
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    await page.goto(url);
    await page.waitForFunction(() => window.cbStats.frames > 1, null, { timeout: 20000 });
    // More vending than crews at once, so robot dogs go too.
    const posted = await page.evaluate(async ([k]) => {
      const codes = [];
      for (let i = 0; i < 7; i++) {
        const res = await fetch('/api/v1/reports', {
          method: 'POST', headers: { 'X-API-Key': k, 'Content-Type': 'application/json' },
          body: JSON.stringify({ source: 'citizen', service_code: 'street_vending', description: '摊贩占道经营',
            lat: 22.7230 + 0.0023 * (i % 4), long: 114.2491 + 0.0030 * Math.floor(i / 4) }),
        });
        codes.push(res.status);
      }
      return codes;
    }, [url.match(/key=([0-9a-f]+)/)[1]]);
    if (posted.some((c) => c !== 201)) fail(`posting reports to the live brain: ${posted}`);
    await page.waitForSelector('#attention li[data-kind="battery"]', { timeout: 60000 }).catch(async (e) => {
      const seen = await page.evaluate(() => JSON.stringify({ fleet: S.frame.fleet,
        cases: S.frame.cases.map((c) => [c.id, c.status, c.unit]) }));
      throw new Error(`${e.message}\nthe console saw: ${seen}`);
    });
    const low = await page.textContent('#attention li[data-kind="battery"]');
    if (!/电量 \d+%/.test(low)) fail(`a low battery without its level: '${low}'`);
    console.log(`live fleet, low battery: ${low.trim()}`);
    fleet.kill('SIGKILL');
    await page.waitForSelector('#attention li[data-kind="lost"]', { timeout: 30000 });
    await page.click('#attention li[data-kind="lost"]');
    const panel = await page.textContent('#node-info');
    if (!panel.includes('失联')) fail(`a lost unit's panel does not say so: '${panel}'`);
    console.log(`live fleet, lost: ${(await page.textContent('#attention li[data-kind="lost"]')).trim()}`);
    await page.screenshot({ path: `${outDir}/console_live.png` });
    await cameraSnapshot(mqtt);
  } finally {
    for (const p of procs.reverse()) if (p.exitCode === null) p.kill('SIGTERM');
  }
}

// ---- A camera's case shows its snapshot: serve --cameras pulls darknet's dog.jpg once a second; the parked car in
// the zone files an illegal_parking case, and its detail in the console shows the frame with the event's boxes.
async function cameraSnapshot(mqtt) {
  const model = resolve(outDir, '..', 'models', 'centernet.onnx');
  const cams = `${outDir}/console_cameras.json`;
  writeFileSync(cams, JSON.stringify({ cameras: [{ id: 'cam-yard', lat: 22.7230, long: 114.2491,
    watches: '龙城大道', source: '/usr/share/darknet/data/dog.jpg', every_s: 1, priority: 1,
    zones: [{ id: 'kerb', rule: 'illegal_parking', min_dwell_s: 0,
      polygon: [[0, 0], [2000, 0], [2000, 2000], [0, 2000]] }] }] }));
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${outDir}/console_camera.db${suffix}`, { force: true });
  const serve = spawn(bin, ['serve', '--district', 'default', '--mqtt', mqtt, '--port', '0',
    '--db', `${outDir}/console_camera.db`, '--cameras', cams, '--snapshots', `${outDir}/console_shots`,
    '--detector-model', model], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  serve.stderr.on('data', (d) => { stderr += d; });
  try {
    const url = await consoleAddress(() => stderr, 'console at', 15000);
    const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    await page.goto(url);
    await page.waitForFunction(() => S.frame && S.frame.cases.some((c) => c.category === 'illegal_parking'), null,
      { timeout: 30000 });
    const id = await page.evaluate(() => S.frame.cases.find((c) => c.category === 'illegal_parking').id);
    await page.evaluate((i) => selectCase(i), id);
    await page.waitForFunction(() => {
      const img = document.querySelector('#detail img.snapshot');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 15000 }).catch(async (e) => {
      throw new Error(`${e.message}\nthe detail: ${await page.innerHTML('#detail')}`);
    });
    const width = await page.evaluate(() => document.querySelector('#detail img.snapshot').naturalWidth);
    if (width !== 768) fail(`the snapshot is not the camera's 768-px frame: ${width}`);
    console.log(`camera case #${id}: snapshot ${width} px wide in the case detail`);
    await page.screenshot({ path: `${outDir}/console_camera.png` });
  } finally {
    if (serve.exitCode === null) serve.kill('SIGTERM');
  }
}
