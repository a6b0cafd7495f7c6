// Whole-run benchmark of the operations console: `citybrain run` with a browser connected (Debian's chromium
// through playwright-core). Reports the simulation's achieved speed-up, the time to serve the page, the frame
// size, how long the page takes to draw each frame, and how long a second page takes from navigation to its
// first frame on screen once `--interactive-at` vehicles are running (measured in the page; the harness's own
// view, which adds playwright's round trips, is reported beside it).
// Usage: node bench_dashboard.mjs CITYBRAIN [--speedup X] [--demand VPH] [--grid RxC] [--interactive-at N]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';

const [bin, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : dflt; };
const dir = mkdtempSync(`${tmpdir()}/cb-bench-`);
const t0 = performance.now();
const run = spawn(bin, ['run', '--port', '0', '--speedup', opt('--speedup', 'max'), '--demand', opt('--demand', '3000'),
  '--sim-hours', opt('--sim-hours', '1'), '--grid', opt('--grid', '6x6'), '--db', `${dir}/run.db`, '--report', `${dir}/report.json`, '--hold'],
{ stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
run.stderr.on('data', (d) => { stderr += d; });
const url = await new Promise((resolve) => {
  const look = () => {
    const m = stderr.match(/dashboard at (http:\/\/[^\s,]+)/);
    if (m) resolve(m[1]); else setTimeout(look, 5);
  };
  look();
});
const serveMs = performance.now() - t0;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
await page.addInitScript(() => {
  window.cbBench = { ms: [], maxVehicles: 0, finished: false };
  window.addEventListener('load', () => {
    const inner = window.applyFrame;
    window.applyFrame = (f) => {
      const t = performance.now();
      inner(f);
      window.cbBench.ms.push(performance.now() - t);
      window.cbBench.maxVehicles = Math.max(window.cbBench.maxVehicles, f.vehicles);
      if (f.finished) window.cbBench.finished = true;
    };
  });
});
await page.goto(url);
// A second operator opens the console while the district is busy: navigation to the first drawn frame.
const busy = Number(opt('--interactive-at', '1500'));
await page.waitForFunction((n) => window.cbBench.maxVehicles >= n || window.cbBench.finished, busy,
  { timeout: 600000, polling: 100 });
const second = await browser.newPage({ viewport: { width: 1400, height: 850 } });
const tOpen = performance.now();
await second.goto(url);
await second.waitForFunction(() => window.cbStats && window.cbStats.firstFrameMs > 0 && window.cbStats.roadsDrawn > 0,
  null, { timeout: 60000, polling: 'raf' });
// Two measures: the page's own (navigation start to the first frame on screen, performance.now() in the page),
// and the harness's (goto to the moment playwright sees it, which adds its own round trips).
const interactiveHarnessMs = performance.now() - tOpen;
const interactiveMs = await second.evaluate(() => window.cbStats.firstFrameMs);
await second.close();
await page.waitForFunction(() => window.cbBench.finished, null, { timeout: 600000, polling: 200 });
const b = await page.evaluate(() => window.cbBench);
await browser.close();
run.kill('SIGINT');
await new Promise((r) => run.on('exit', r));
const report = JSON.parse(readFileSync(`${dir}/report.json`, 'utf8'));
const ms = b.ms.slice().sort((x, y) => x - y);
console.log(JSON.stringify({
  serve_ms: Math.round(serveMs), speedup: Math.round(report.speedup), wall_s: +report.wall_s.toFixed(2),
  vehicles_total: report.vehicles, vehicles_max_running: b.maxVehicles, frames: ms.length,
  frame_kb: +report.frame_kb.toFixed(1), frame_build_ms: +report.frame_build_ms.toFixed(2),
  page_frame_ms_mean: +(ms.reduce((a, x) => a + x, 0) / ms.length).toFixed(2),
  page_frame_ms_p95: +ms[Math.floor(0.95 * (ms.length - 1))].toFixed(2),
  att_adaptive_s: +report.att_adaptive_s.toFixed(1), att_fixed_s: +report.att_fixed_s.toFixed(1),
  second_page_interactive_ms: Math.round(interactiveMs), second_page_seen_by_harness_ms: Math.round(interactiveHarnessMs),
  opened_at_vehicles: busy,
}));
