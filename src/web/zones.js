// The city's zones at a glance, for a zone node (`citybrain serve --zones`): which node holds which zone, and each
// zone's backlog, from GET /api/v1/zones once a second. The map draws the zones' polygons (lon, lat) coloured by
// their node; a zone nobody holds is grey, edged in red. Units are dots at their bases: amber while taken by a case,
// green when free. `window.cbZones` says what was drawn (the browser test reads it).
'use strict';

const canvas = document.getElementById('map');
const ctx = canvas.getContext('2d');
const stats = { updates: 0, drawn: 0, owners: {}, nodes: [], errors: 0, units: { drawn: 0, busy: 0 } };
window.cbZones = stats;
let latest = null;

// A node's colour: a hue from its name (FNV-1a, spread by the golden ratio so that names one letter apart, such as
// "a" and "b", get far-apart hues), the same on every page and every refresh.
function colourOf(node) {
  let h = 0x811c9dc5;
  for (const c of node) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return `hsl(${Math.round(((h * 0.618033988749895) % 1) * 360)}, 60%, 45%)`;
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = w * dpr;
  canvas.height = h * dpr;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (!latest) return;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const z of latest.zones) {
    for (const [lon, lat] of z.polygon) {
      x0 = Math.min(x0, lon); x1 = Math.max(x1, lon); y0 = Math.min(y0, lat); y1 = Math.max(y1, lat);
    }
  }
  // Longitude shrinks with latitude: scale it so that the map keeps its shape.
  const kx = Math.cos(((y0 + y1) / 2) * Math.PI / 180);
  const pad = 24;
  const s = Math.min((w - 2 * pad) / Math.max((x1 - x0) * kx, 1e-9), (h - 2 * pad) / Math.max(y1 - y0, 1e-9));
  const ox = (w - (x1 - x0) * kx * s) / 2, oy = (h - (y1 - y0) * s) / 2;
  const at = (lon, lat) => [ox + (lon - x0) * kx * s, h - oy - (lat - y0) * s];
  let drawn = 0;
  for (const z of latest.zones) {
    ctx.beginPath();
    z.polygon.forEach(([lon, lat], i) => {
      const [px, py] = at(lon, lat);
      if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.closePath();
    // Nobody's: grey with a dashed red edge (a node's hue may be red too).
    ctx.fillStyle = z.node ? colourOf(z.node) : '#2a3038';
    ctx.fill();
    ctx.strokeStyle = z.node ? '#0f1620' : '#ff5a5a';
    ctx.setLineDash(z.node ? [] : [6, 4]);
    ctx.lineWidth = 2;
    ctx.stroke();
    ctx.setLineDash([]);
    drawn += 1;
    let cx = 0, cy = 0;
    for (const [lon, lat] of z.polygon) {
      const [px, py] = at(lon, lat);
      cx += px / z.polygon.length; cy += py / z.polygon.length;
    }
    ctx.fillStyle = '#fff';
    ctx.textAlign = 'center';
    ctx.font = '600 14px system-ui, sans-serif';
    ctx.fillText(z.zone, cx, cy - 8);
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText(z.node ? `${z.node}` : '无人持有 · none', cx, cy + 8);
    if (z.pending + z.unacked > 0) ctx.fillText(`${z.pending + z.unacked} ⏳`, cx, cy + 24);
  }
  stats.drawn = drawn;
  let busy = 0;
  for (const u of latest.units || []) {
    const [px, py] = at(u.lon, u.lat);
    ctx.beginPath();
    ctx.arc(px, py, 5, 0, 2 * Math.PI);
    ctx.fillStyle = u.busy ? '#ffb020' : '#3ddc84';
    ctx.fill();
    ctx.strokeStyle = '#0f1620';
    ctx.lineWidth = 1.5;
    ctx.stroke();
    busy += u.busy ? 1 : 0;
  }
  stats.units = { drawn: (latest.units || []).length, busy };
}

function render(state) {
  latest = state;
  stats.updates += 1;
  stats.owners = Object.fromEntries(state.zones.map((z) => [z.zone, z.node]));
  stats.nodes = [...state.nodes].sort();
  const held = {};
  for (const n of stats.nodes) held[n] = 0;
  for (const z of state.zones) if (z.node) held[z.node] = (held[z.node] || 0) + 1;
  const nodes = document.querySelector('#nodes tbody');
  nodes.replaceChildren(...Object.entries(held).sort().map(([n, count]) => {
    const tr = document.createElement('tr');
    const name = text('td', n);
    const sw = text('i', '', 'sw');
    sw.style.background = colourOf(n);
    name.prepend(sw);
    tr.append(name, text('td', String(count), 'num'));
    return tr;
  }));
  const units = {};
  for (const u of state.units || []) {
    const c = units[u.zone] || (units[u.zone] = { busy: 0, all: 0 });
    c.all += 1;
    c.busy += u.busy ? 1 : 0;
  }
  const zones = document.querySelector('#zones tbody');
  zones.replaceChildren(...state.zones.map((z) => {
    const tr = document.createElement('tr');
    tr.dataset.zone = z.zone;
    const u = units[z.zone];
    tr.append(text('td', z.zone), text('td', z.node || '无人持有 · none', z.node ? '' : 'none'),
      text('td', String(z.pending), 'num'), text('td', String(z.unacked), 'num'),
      text('td', u ? `${u.busy}/${u.all}` : '–', 'num'));
    return tr;
  }));
  draw();
}

async function poll() {
  const conn = document.getElementById('conn');
  try {
    const r = await fetch('/api/v1/zones', { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    render(await r.json());
    conn.className = 'conn on';
    conn.textContent = '在线 · live';
    document.getElementById('updated').textContent = new Date().toLocaleTimeString('zh-CN', { hour12: false });
  } catch (e) {
    stats.errors += 1;
    conn.className = 'conn off';
    conn.textContent = `离线 · ${e.message}`;
  }
  setTimeout(poll, 1000);
}

window.addEventListener('resize', draw);
poll();
