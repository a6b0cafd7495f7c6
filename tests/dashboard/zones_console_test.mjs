// Browser test of the zones console that a zone node serves at / (`citybrain zones node --port`, `serve --zones`):
// playwright-core drives Debian's chromium against a real nats-server with JetStream and two zone nodes on
// loopback. The page shows the four zones shared by the two nodes (map and tables); node b is killed with SIGKILL,
// and the page shows its zones held by a once their leases have aged out. Screenshots go to OUT_DIR.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [bin, outDir] = process.argv.slice(2);
if (!bin || !outDir) {
  console.error('usage: node zones_console_test.mjs CITYBRAIN OUT_DIR');
  process.exit(2);
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function waitFor(what, check, ms) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const look = () => {
      const v = check();
      if (v) resolve(v);
      else if (Date.now() > deadline) reject(new Error(`${what}: not within ${ms / 1000} s`));
      else setTimeout(look, 50);
    };
    look();
  });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cb_zones_console_'));
const procs = [];
function start(cmd, args) {
  // /usr/sbin holds nats-server on Debian, and is not on every user's PATH.
  const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/bin`, CITYBRAIN_API_KEYS: 'console-test-key-0123456789' };
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  p.log = '';
  p.stderr.on('data', (d) => { p.log += d; });
  procs.push(p);
  return p;
}

const natsPort = await freePort();
const nats = start('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', `${tmp}/js`]);
const url = `nats://127.0.0.1:${natsPort}`;
const cfg = `${tmp}/zones.json`;
const part = spawnSync(bin, ['zones', 'partition', '--zones', '4', '--units', '2', '--lease-ms', '1500', '--out', cfg]);
if (part.status !== 0) fail(`zones partition: ${part.stderr}`);
await waitFor('nats-server listens', () => nats.log.includes('Server is ready'), 10000);

let browser;
try {
  const a = start(bin, ['zones', 'node', '--zones', cfg, '--nats', url, '--node', 'a', '--data', `${tmp}/data`, '--port', '0']);
  const b = start(bin, ['zones', 'node', '--zones', cfg, '--nats', url, '--node', 'b', '--data', `${tmp}/data`]);
  const m = await waitFor('node a serves', () => a.log.match(/node a serves (http:\/\/127\.0\.0\.1:\d+\/)/), 20000);
  const base = m[1];
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base);

  // Both nodes hold zones: each zone drawn, each row names its node.
  await page.waitForFunction(() => {
    const o = Object.values(window.cbZones.owners);
    return o.length === 4 && o.every((n) => n) && new Set(o).size === 2 && window.cbZones.drawn === 4;
  }, null, { timeout: 20000 });
  const owners = await page.evaluate(() => window.cbZones.owners);
  const rows = await page.$$eval('#zones tbody tr', (trs) => trs.map((tr) => [tr.dataset.zone, tr.children[1].textContent]));
  for (const [zone, node] of rows) if (owners[zone] !== node) fail(`row ${zone} says ${node}, the API ${owners[zone]}`);
  if (rows.length !== 4) fail(`${rows.length} zone rows`);
  const nodes = await page.$$eval('#nodes tbody tr td:first-child', (tds) => tds.map((td) => td.textContent));
  if (nodes.join(',') !== 'a,b') fail(`nodes listed: ${nodes}`);
  if ((await page.textContent('#conn')).indexOf('live') < 0) fail('the page does not say it is live');
  // The eight units, all free; then a load of reports takes some of them, and the map and the rows say which.
  await page.waitForFunction(() => window.cbZones.units.drawn === 8 && window.cbZones.units.busy === 0, null,
    { timeout: 10000 });
  const load = spawnSync(bin, ['zones', 'publish', '--zones', cfg, '--nats', url, '--count', '40'], { encoding: 'utf8' });
  if (load.status !== 0) fail(`zones publish: ${load.stderr}`);
  await page.waitForFunction(() => window.cbZones.units.busy > 0, null, { timeout: 20000 });
  // The rows agree with the API once the page has refreshed after it (units are taken while this runs).
  const busyRows = () => page.$$eval('#zones tbody tr td:nth-child(5)',
    (tds) => tds.reduce((n, td) => n + Number(td.textContent.split('/')[0]), 0));
  let api, busyApi, agreed = false;
  for (let i = 0; i < 10 && !agreed; i++) {
    api = await (await fetch(`${base}api/v1/zones`)).json();
    busyApi = api.units.filter((u) => u.busy).length;
    agreed = await page.waitForFunction((n) => {
      const tds = [...document.querySelectorAll('#zones tbody tr td:nth-child(5)')];
      return tds.reduce((k, td) => k + Number(td.textContent.split('/')[0]), 0) === n;
    }, busyApi, { timeout: 3000 }).then(() => true, () => false);
  }
  if (busyApi === 0 || api.units.some((u) => u.busy && !u.case)) fail(`units as the API has them: ${JSON.stringify(api.units)}`);
  if (!agreed) fail(`the rows count ${await busyRows()} busy units, the API ${busyApi}`);
  await page.screenshot({ path: `${outDir}/zones_console.png` });
  console.log(`zones console: ${JSON.stringify(owners)}; ${busyApi} of 8 units busy`);

  // b dies: once its leases age out, a holds every zone, and the page says so.
  b.kill('SIGKILL');
  const killed = Date.now();
  await page.waitForFunction(() => Object.values(window.cbZones.owners).every((n) => n === 'a') &&
    window.cbZones.nodes.join(',') === 'a', null, { timeout: 20000 });
  const rowsAfter = await page.$$eval('#zones tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
  if (rowsAfter.some((n) => n !== 'a')) fail(`after b died, the rows say ${rowsAfter}`);
  console.log(`b killed: the page shows a holding every zone after ${((Date.now() - killed) / 1000).toFixed(1)} s`);
  await page.screenshot({ path: `${outDir}/zones_console_after.png` });
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
} catch (e) {
  if (!process.exitCode) { console.error(`FAIL: ${e.message}`); process.exitCode = 1; }
  for (const p of procs) console.error(`--- ${p.spawnargs.slice(0, 4).join(' ')}\n${p.log.slice(-1500)}`);
} finally {
  if (browser) await browser.close();
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
if (!process.exitCode) console.log('zones console: all checks passed');
