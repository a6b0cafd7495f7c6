// Browser test of `citybrain run`'s dashboard: playwright-core drives Debian's chromium (headless) against a real
// run on loopback. Checks that the map draws roads, that an incident appears and changes status, that the KPI
// panels hold numbers, and saves a screenshot.
import { spawn } from 'node:child_process';
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

const run = spawn(bin, ['run', '--seed', '3', '--sim-hours', '1', '--speedup', '120', '--port', '0', '--hold',
  '--db', `${outDir}/dashboard_test.db`], { stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
run.stderr.on('data', (d) => { stderr += d; });
run.stdout.on('data', () => {});
const exited = new Promise((resolve) => run.on('exit', (code, signal) => resolve({ code, signal })));

const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no dashboard address within 10 s:\n${stderr}`)), 10000);
  const look = () => {
    const m = stderr.match(/dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/);
    if (m) { clearTimeout(timer); resolve(m[1]); } else setTimeout(look, 50);
  };
  look();
});
console.log(`dashboard: ${url}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);

  // The map: roads drawn from the network's geometry, and live frames arriving over the WebSocket.
  await page.waitForFunction(() => window.cbStats.roadsDrawn > 0 && window.cbStats.frames > 2, null, { timeout: 20000 });
  const roads = await page.evaluate(() => window.cbStats.roadsDrawn);
  const painted = await page.evaluate(() => {
    const c = document.getElementById('map');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 150) n++;  // not the dark background
    return n;
  });
  if (roads < 50) fail(`only ${roads} roads drawn`);
  if (painted < 5000) fail(`the map canvas is nearly empty (${painted} bright pixels)`);
  if ((await page.textContent('#conn')) !== 'live') fail('the WebSocket is not connected');

  // An incident appears in the case list and on the map, then changes status.
  await page.waitForSelector('#cases tbody tr', { timeout: 60000 });
  const first = await page.$eval('#cases tbody tr:last-child', (tr) => ({ id: tr.dataset.id, status: tr.dataset.status }));
  console.log(`first case seen: #${first.id} ${first.status}`);
  await page.selectOption('#f-status', '');
  await page.waitForFunction(([id, status]) => {
    const tr = document.querySelector(`#cases tr[data-id="${id}"]`);
    return tr && tr.dataset.status !== status;
  }, [first.id, first.status], { timeout: 60000 });
  const later = await page.$eval(`#cases tr[data-id="${first.id}"]`, (tr) => tr.dataset.status);
  console.log(`case #${first.id}: ${first.status} -> ${later}`);
  await page.waitForFunction(() => window.cbStats.casesDrawn > 0, null, { timeout: 10000 });

  // KPI panels hold numbers, the fixed-time baseline included.
  await page.waitForFunction(() => /^\d+(\.\d+)?$/.test(document.getElementById('kpi-att-fixed').textContent),
    null, { timeout: 30000 });
  const kpi = await page.evaluate(() => Object.fromEntries(
    [...document.querySelectorAll('.kpi')].map((k) => [k.querySelector('label').textContent, k.querySelector('b').textContent])));
  console.log(JSON.stringify(kpi));
  if (!/^\d+(\.\d)?$/.test(kpi['ATT adaptive'])) fail(`ATT adaptive is '${kpi['ATT adaptive']}'`);
  if (!/^\d+ \(\d+\)$/.test(kpi['cases (open)'])) fail(`cases is '${kpi['cases (open)']}'`);
  if (!/^\d+(\.\d)? %$/.test(kpi['deadlines met'])) fail(`deadlines met is '${kpi['deadlines met']}'`);
  if (!/^\d+$/.test(kpi.vehicles)) fail(`vehicles is '${kpi.vehicles}'`);

  // A case's detail opens on a click.
  await page.click(`#cases tr[data-id="${first.id}"]`);
  const detail = await page.textContent('#detail');
  if (!detail.includes(`#${first.id}`)) fail(`the detail panel shows '${detail}'`);

  await page.screenshot({ path: `${outDir}/dashboard.png` });
  console.log(`screenshot: ${outDir}/dashboard.png`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
} finally {
  await browser.close();
  run.kill('SIGINT');
}
const { code, signal } = await exited;
if (code !== 0) fail(`citybrain run exited with ${code ?? signal} after Ctrl-C:\n${stderr}`);
console.log('dashboard test passed');
