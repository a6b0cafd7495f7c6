// CityBrain dashboard: draws the district from the network's own geometry and follows the brain over WebSocket.
'use strict';

const S = { net: null, frame: null, series: [], selected: null, view: null, frames: 0 };
window.cbStats = { roadsDrawn: 0, casesDrawn: 0, unitsDrawn: 0, frames: 0 };

const $ = (id) => document.getElementById(id);
const CAT_COLOUR = { street_vending: '#e84393', waterlogging: '#1e7be0' };
const KIND_COLOUR = { robot_dog: '#ffb020', sanitation_robot: '#27d3c3', crew: '#f5f5f5', drone: '#c0ff40' };
const OPEN = new Set(['reported', 'filed', 'dispatched', 'handling', 'handled']);

function catName(code) {
  const c = S.net && S.net.categories[code];
  return c ? c.name : code;
}

function fmtClock(t) {
  const d = new Date(S.net.epoch_ms + t * 1000 + 8 * 3600 * 1000);  // Beijing time
  return d.toISOString().substring(11, 19);
}

function sizeCanvas(c) {
  const r = c.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  if (c.width !== Math.round(r.width * dpr) || c.height !== Math.round(r.height * dpr)) {
    c.width = Math.round(r.width * dpr);
    c.height = Math.round(r.height * dpr);
  }
  const ctx = c.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w: r.width, h: r.height };
}

function project(w, h) {
  const [x0, y0, x1, y1] = S.net.bounds;
  const k = Math.min(w / Math.max(1, x1 - x0), h / Math.max(1, y1 - y0)) * 0.94;
  const ox = (w - (x1 - x0) * k) / 2, oy = (h - (y1 - y0) * k) / 2;
  return { k, x: (x) => ox + (x - x0) * k, y: (y) => h - oy - (y - y0) * k };
}

function speedColour(v) {
  if (v < 0) return '#2a6b3a';  // empty road
  const hue = Math.max(0, Math.min(120, v * 1.2));
  return `hsl(${hue}, 78%, 48%)`;
}

function drawMap() {
  if (!S.net) return;
  const { ctx, w, h } = sizeCanvas($('map'));
  const P = project(w, h);
  S.view = P;
  ctx.fillStyle = '#0f1620';
  ctx.fillRect(0, 0, w, h);
  const f = S.frame;
  let roads = 0;
  ctx.lineCap = 'round';
  S.net.roads.forEach((road, i) => {
    const pts = road.pts;
    if (pts.length < 2) return;
    // Each direction drawn beside the other: shift to the right of travel.
    const [ax, ay] = pts[0], [bx, by] = pts[pts.length - 1];
    const len = Math.hypot(bx - ax, by - ay) || 1;
    const off = Math.max(1.5, Math.min(5, road.lanes * 1.1 * P.k * 3.2 / 2));
    const nx = (by - ay) / len * off, ny = -(bx - ax) / len * off;
    ctx.strokeStyle = speedColour(f ? f.speed[i] : -1);
    ctx.lineWidth = Math.max(1.5, Math.min(6, road.lanes * P.k * 3.2 / 2));
    ctx.beginPath();
    pts.forEach(([x, y], j) => {
      const sx = P.x(x) + nx, sy = P.y(y) - ny;
      if (j === 0) ctx.moveTo(sx, sy); else ctx.lineTo(sx, sy);
    });
    ctx.stroke();
    roads++;
    // The signal at the road's end: the light for its through movement.
    if (f && f.lights[i] >= 0) {
      const t = 0.86, lx = ax + (bx - ax) * t, ly = ay + (by - ay) * t;
      ctx.fillStyle = ['#e0392b', '#f2c12e', '#2fbf4a'][f.lights[i]];
      ctx.beginPath();
      ctx.arc(P.x(lx) + nx, P.y(ly) - ny, 2.4, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
  window.cbStats.roadsDrawn = roads;
  ctx.fillStyle = '#cfd8e3';
  S.net.nodes.forEach((n) => {
    if (!n.signal) return;
    ctx.fillRect(P.x(n.x) - 2, P.y(n.y) - 2, 4, 4);
  });
  // Depots and low points.
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = 1;
  S.net.depots.forEach(([x, y]) => { ctx.strokeRect(P.x(x) - 7, P.y(y) - 7, 14, 14); });
  S.net.low_points.forEach(([x, y], i) => {
    const level = f ? f.water_cm[i] : 0;
    ctx.fillStyle = level > 5 ? 'rgba(30,123,224,0.45)' : 'rgba(30,123,224,0.15)';
    ctx.beginPath();
    ctx.arc(P.x(x), P.y(y), 6 + Math.min(30, level) * 0.8, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.font = '11px system-ui, "WenQuanYi Micro Hei", sans-serif';
  (S.net.landmarks || []).forEach(([name, x, y]) => {
    ctx.fillStyle = '#c9a6ff';
    ctx.fillRect(P.x(x) - 3, P.y(y) - 3, 6, 6);
    ctx.fillStyle = '#9fb3c8';
    ctx.fillText(name, P.x(x) + 6, P.y(y) - 4);
  });
  if (!f) return;
  let cases = 0;
  f.cases.forEach((c) => {
    if (!c.xy) return;
    const open = OPEN.has(c.status);
    if (!open && c.status !== 'closed') return;
    const x = P.x(c.xy[0]), y = P.y(c.xy[1]);
    ctx.fillStyle = open ? (CAT_COLOUR[c.category] || '#8e6cd9') : 'rgba(140,150,160,0.45)';
    ctx.beginPath();
    ctx.arc(x, y, open ? 6 : 3.5, 0, 2 * Math.PI);
    ctx.fill();
    if (c.status === 'handling' || c.status === 'dispatched') {
      ctx.strokeStyle = c.status === 'handling' ? '#ffffff' : '#9fd0ff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, 9, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (S.selected === c.id) {
      ctx.strokeStyle = '#ffe066';
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 12, y - 12, 24, 24);
    }
    cases++;
  });
  window.cbStats.casesDrawn = cases;
  let units = 0;
  f.units.forEach(([x, y, mode], i) => {
    const kind = S.net.units[i].kind;
    ctx.fillStyle = KIND_COLOUR[kind] || '#fff';
    const sx = P.x(x), sy = P.y(y);
    ctx.beginPath();
    if (kind === 'crew') ctx.rect(sx - 4, sy - 4, 8, 8);
    else { ctx.moveTo(sx, sy - 5); ctx.lineTo(sx + 5, sy + 4); ctx.lineTo(sx - 5, sy + 4); ctx.closePath(); }
    ctx.fill();
    if (mode === 0) { ctx.strokeStyle = '#0f1620'; ctx.lineWidth = 1; ctx.stroke(); }
    units++;
  });
  window.cbStats.unitsDrawn = units;
}

function drawChart() {
  const { ctx, w, h } = sizeCanvas($('chart'));
  ctx.fillStyle = '#16202c';
  ctx.fillRect(0, 0, w, h);
  const s = S.series;
  if (!S.net || s.length < 1) return;
  const T = S.net.duration_s;
  const maxV = Math.max(10, ...s.map((p) => p[1]));
  const maxC = Math.max(5, ...s.map((p) => p[3]));
  const x = (t) => 30 + (w - 60) * t / T;
  const line = (idx, max, colour) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    s.forEach((p, i) => {
      const y = h - 16 - (h - 28) * p[idx] / max;
      if (i === 0) ctx.moveTo(x(p[0]), y); else ctx.lineTo(x(p[0]), y);
    });
    ctx.stroke();
  };
  line(1, maxV, '#3a8ee6');
  line(3, maxC, '#e84393');
  ctx.fillStyle = '#8aa0b6';
  ctx.font = '11px system-ui';
  ctx.fillText(`vehicles (max ${Math.round(maxV)})`, 34, 12);
  ctx.fillStyle = '#e84393';
  ctx.fillText(`open cases (max ${Math.round(maxC)})`, w / 2, 12);
  ctx.fillStyle = '#8aa0b6';
  ctx.fillText(fmtClock(0), 30, h - 3);
  ctx.fillText(fmtClock(T), w - 80, h - 3);
}

function num(v, digits = 0) {
  return v === undefined || v === null ? '–' : Number(v).toFixed(digits);
}

function renderKpis() {
  const f = S.frame;
  if (!f) return;
  const k = f.kpi;
  // Both ATTs at the same simulated minute while running (the baseline runs ahead on its own thread).
  $('kpi-att').textContent = num(k.att_adaptive_minute_s !== undefined ? k.att_adaptive_minute_s : k.att_adaptive_s, 1);
  $('kpi-att-fixed').textContent = num(k.att_fixed_s, 1);
  $('kpi-vehicles').textContent = num(f.vehicles);
  $('kpi-cases').textContent = `${k.cases_total} (${k.open_cases})`;
  $('kpi-dups').textContent = num(k.duplicates_merged);
  $('kpi-response').textContent = `${num(k.p50_response_s)} / ${num(k.p95_response_s)}`;
  $('kpi-deadline').textContent = `${num(100 * k.deadline_met_ratio, 1)} %`;
  $('kpi-util').textContent = `${num(100 * k.unit_utilisation, 1)} %`;
  $('clock').textContent = fmtClock(f.t);
  $('progress-bar').style.width = `${Math.min(100, 100 * f.t / f.duration_s)}%`;
  const wet = f.water_cm.map((l) => l.toFixed(0)).join(' / ');
  $('weather').textContent = `${f.raining ? '🌧 rain' : 'dry'} · water at low points ${wet} cm` +
    (f.speedup ? ` · ×${num(f.speedup)}` : '') + (f.finished ? ' · run finished' : '');
}

function renderCases() {
  const f = S.frame;
  if (!f) return;
  const cat = $('f-cat').value, status = $('f-status').value;
  const seen = new Set([...$('f-cat').options].map((o) => o.value));
  f.cases.forEach((c) => {
    if (!seen.has(c.category)) {
      seen.add(c.category);
      const o = document.createElement('option');
      o.value = c.category;
      o.textContent = catName(c.category);
      $('f-cat').appendChild(o);
    }
  });
  const rows = f.cases.filter((c) => (!cat || c.category === cat) &&
    (!status || (status === 'open' ? OPEN.has(c.status) : !OPEN.has(c.status)))).slice(-150).reverse();
  const body = $('cases').tBodies[0];
  body.replaceChildren(...rows.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    tr.dataset.status = c.status;
    if (S.selected === c.id) tr.className = 'sel';
    tr.innerHTML = `<td>${c.id}</td><td>${catName(c.category)}</td><td><span class="st st-${c.status}">${c.status}</span></td>` +
      `<td>${c.department}</td><td>${c.report_count}</td><td>${c.onsite_s === undefined ? '' : Math.round(c.onsite_s) + ' s'}</td>`;
    tr.onclick = () => { S.selected = c.id; renderDetail(); renderCases(); drawMap(); };
    return tr;
  }));
  renderDetail();
}

function renderDetail() {
  const f = S.frame;
  const c = f && f.cases.find((x) => x.id === S.selected);
  if (!c) { $('detail').textContent = 'Select a case for its details.'; return; }
  const lines = [`<b>#${c.id} ${catName(c.category)}</b> · ${c.status} · priority ${c.priority} · ${c.source}, ${c.report_count} report(s)`,
    `first report ${fmtClock(c.first_report_s)}` + (c.unit ? ` · unit ${c.unit}` : '') +
    (c.onsite_s !== undefined ? ` · on site after ${Math.round(c.onsite_s)} s` : '')];
  if (c.notice) lines.push(`🔊 ${c.notice}`);
  if (c.reply) lines.push(`💬 ${c.reply}`);
  $('detail').innerHTML = lines.join('<br>');
}

function applyFrame(f) {
  S.frame = f;
  if (f.series) S.series = f.series;
  else if (f.point && (!S.series.length || S.series[S.series.length - 1][0] < f.point[0])) S.series.push(f.point);
  window.cbStats.frames = ++S.frames;
  drawMap();
  drawChart();
  renderKpis();
  renderCases();
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn on'; };
  ws.onmessage = (e) => applyFrame(JSON.parse(e.data));
  ws.onclose = () => {
    $('conn').textContent = 'offline';
    $('conn').className = 'conn off';
    setTimeout(connect, 1000);
  };
}

async function init() {
  S.net = await (await fetch('/api/network')).json();
  try { applyFrame(await (await fetch('/api/state')).json()); } catch (e) { drawMap(); }
  $('f-cat').onchange = renderCases;
  $('f-status').onchange = renderCases;
  window.addEventListener('resize', () => { drawMap(); drawChart(); });
  connect();
}

init();
