// CityBrain operations console: draws the district from the network's own geometry, follows the brain over
// WebSocket, and reads and acts on cases through the same authenticated API an integrator uses (/api/v1).
'use strict';

const S = {
  net: null, frame: null, series: [], selected: null, view: null, frames: 0,
  zoom: 1, panX: 0, panY: 0, drag: null,
  lang: localStorage.getItem('cb-lang') || 'zh',
  key: null, detail: null, detailError: null, detailAt: 0, finished: false, node: null, unit: null, incoming: [],
  note: '', history: [], replay: null, live: null, decisions: new Map(), shots: new Map(),
};
// The scrubber keeps a frame per 10 simulated seconds, the last hour of them (a frame holds up to 400 cases).
const HISTORY_FRAMES = 360, HISTORY_STEP_S = 10;
window.cbStats = { roadsDrawn: 0, casesDrawn: 0, unitsDrawn: 0, routesDrawn: 0, frames: 0, scale: 0, attention: 0 };

const $ = (id) => document.getElementById(id);
// A CJK font named first (it has Latin glyphs too), so that Chinese text needs no search through the fallbacks.
const FONTS = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
const CAT_COLOUR = { street_vending: '#e84393', waterlogging: '#1e7be0' };
const KIND_COLOUR = { robot_dog: '#ffb020', sanitation_robot: '#27d3c3', crew: '#f5f5f5', drone: '#c0ff40' };
const OPEN = new Set(['reported', 'filed', 'dispatched', 'handling', 'handled']);

// ---- Language: Chinese by default, English on the switch; statuses in the operator's words. ----------------
const I18N = {
  zh: {
    subtitle: '城运中心 · 区域大脑', live: '实时', offline: '离线', finished: '运行结束', connecting: '连接中',
    legend_free: '畅通 <15%', legend_slow: '缓行 15–40%', legend_jam: '拥堵 ≥40%',
    legend_rule: '颜色 = 占用率（车辆总长 / 车道总长）',
    legend_vendor: '占道经营', legend_water: '积水', legend_other: '其他案件', legend_depot: '驻点', legend_route: '前往现场的规划路线',
    legend_zoom: '滚轮缩放 · 拖动平移 · 双击复位',
    kind_robot_dog: '机器狗', kind_sanitation_robot: '环卫机器人', kind_crew: '处置队', kind_drone: '无人机',
    attention: '待处理', kpi_att: '平均行程时间（自适应）', kpi_att_fixed: '平均行程时间（定时）', kpi_vehicles: '在途车辆',
    kpi_cases: '案件（未结）', kpi_dups: '合并重复', kpi_response: '到场 p50 / p95', kpi_deadline: '按时率',
    kpi_util: '力量利用率', all_categories: '全部类别', filter_open: '未结', filter_all: '全部', filter_closed: '已结',
    filter_note: '筛选同时作用于地图', col_category: '类别', col_place: '地点', col_status: '状态', col_dept: '部门',
    col_reports: '报告', why_review: '待人工研判：机器无法确定类别或地点', why_late: '已超时', why_escalated: '已升级',
    why_p1: '一级优先，尚未派出力量', why_no_place: '待人工研判：无法确定地点', why_lost: '失联', why_battery: '电量低', battery: '电量',
    charging: '充电中', guesses: '机器研判',
    no_guess: '无关键词命中', other_category: '其他类别…', file_as: '按此立案', act_file: '立案', act_reject: '不予立案', act_close: '核查结案',
    select_case: '点击案件查看详情。', place: '地点', department: '责任部门', priority: '优先级', deadline: '本环节时限',
    left: '剩余', overdue_by: '已超时', none: '无', original: '原始内容', timeline: '处置时间线', reply: '回复市民',
    duplicates: '合并的重复报告', unit: '处置力量', sign_in: '输入操作员密钥以查看详情并处置：', sign_in_button: '登录',
    operator: '值班员', done_action: '已提交', rain: '降雨', dry: '无雨', water: '低洼点水位', speedup: '倍速',
    run_finished: '本次运行结束', summary_cases: '案件', summary_closed: '结案', summary_met: '按时率',
    summary_att: '平均行程时间 自适应 / 定时', summary_reached: '到场次数', junction: '路口', signal_now: '当前信号',
    light_0: '红', light_1: '黄', light_2: '绿', approach: '进口道', no_signal: '无信号灯', loading: '加载中…',
    snapshot: '抓拍', source_camera: '摄像头', source_sensor: '传感器', source_citizen: '市民', source_hotline: '热线',
    source_robot: '机器人', source_inspector: '巡查员',
    mode_0: '待命', mode_1: '前往现场', mode_2: '现场处置', task: '任务', no_task: '无任务', replay: '回放',
    back_live: '回到实时', queue: '排队', controller: '控制', phase: '相位', chose_phase: '选择相位',
    pressures: '各相位压力 = 进口排队 − 出口排队', scores: '各相位得分（学习策略：排队、来车与出口占用的加权和）', scores_other: '各相位得分', route: '规划路线（虚线）', junctions_left: '个路口', eta: '预计到达还需',
    chat_title: '市民诉求 · 智能体', chat_send: '发送', chat_placeholder: '以市民身份留言，如：龙城大道路灯不亮',
    chat_case: '案件', chat_failed: '发送失败',
  },
  en: {
    subtitle: 'operations centre · district brain', live: 'live', offline: 'offline', finished: 'run finished',
    connecting: 'connecting', legend_free: 'free <15%', legend_slow: 'slow 15–40%', legend_jam: 'jammed ≥40%',
    legend_rule: 'colour = occupancy (vehicle length / lane length)', legend_vendor: 'street vending',
    legend_water: 'waterlogging', legend_other: 'other cases', legend_depot: 'depot', legend_route: 'planned route to the site',
    legend_zoom: 'wheel: zoom · drag: pan · double-click: reset', kind_robot_dog: 'robot dog',
    kind_sanitation_robot: 'sanitation robot', kind_crew: 'crew', kind_drone: 'drone', attention: 'Needs attention',
    kpi_att: 'travel time, adaptive', kpi_att_fixed: 'travel time, fixed-time', kpi_vehicles: 'vehicles',
    kpi_cases: 'cases (open)', kpi_dups: 'duplicates merged', kpi_response: 'on site p50 / p95',
    kpi_deadline: 'deadlines met', kpi_util: 'unit utilisation', all_categories: 'all categories',
    filter_open: 'open', filter_all: 'all', filter_closed: 'closed', filter_note: 'filters apply to the map too',
    col_category: 'category', col_place: 'place', col_status: 'status', col_dept: 'department', col_reports: 'reports',
    why_review: 'needs a person: category or place uncertain', why_late: 'overdue', why_escalated: 'escalated',
    why_p1: 'priority 1, no unit assigned', why_no_place: 'needs a person: place unknown', why_lost: 'lost contact',
    why_battery: 'battery low', battery: 'battery', charging: 'charging', guesses: 'classifier',
    no_guess: 'no keyword matched', other_category: 'another category…', file_as: 'file as', act_file: 'File', act_reject: 'Reject', act_close: 'Verify & close',
    select_case: 'Click a case for its details.', place: 'place', department: 'department', priority: 'priority',
    deadline: 'deadline of this step', left: 'left', overdue_by: 'overdue by', none: 'none', original: 'original',
    timeline: 'timeline', reply: 'reply to the citizen', duplicates: 'duplicate reports merged', unit: 'unit',
    sign_in: 'Enter an operator key to see details and act:', sign_in_button: 'Sign in', operator: 'operator on duty',
    done_action: 'submitted', rain: 'rain', dry: 'dry', water: 'water at low points', speedup: 'speed-up',
    run_finished: 'This run has finished', summary_cases: 'cases', summary_closed: 'closed', summary_met: 'deadlines met',
    summary_att: 'travel time adaptive / fixed', summary_reached: 'units on site', junction: 'junction',
    signal_now: 'signal now', light_0: 'red', light_1: 'amber', light_2: 'green', approach: 'approach',
    no_signal: 'no signal', loading: 'loading…', snapshot: 'snapshot', source_camera: 'camera', source_sensor: 'sensor',
    source_citizen: 'citizen', source_hotline: 'hotline', source_robot: 'robot', source_inspector: 'inspector',
    mode_0: 'idle', mode_1: 'on the way', mode_2: 'on site', task: 'task', no_task: 'no task', replay: 'replay',
    back_live: 'back to live', queue: 'queue', controller: 'controller', phase: 'phase', chose_phase: 'chose phase',
    pressures: 'pressure per phase = waiting in − waiting out', scores: 'score per phase (learned policy: weighted queues, arrivals and exit fill)', scores_other: 'score per phase', route: 'planned route (dashed)',
    junctions_left: 'junctions to go', eta: 'arrives in',
    chat_title: 'Citizens · agents', chat_send: 'Send', chat_placeholder: 'write as a citizen, e.g. 龙城大道路灯不亮',
    chat_case: 'case', chat_failed: 'not sent',
  },
};
const STATUS = {
  zh: { reported: '待立案', filed: '已立案', dispatched: '已派遣', handling: '处置中', handled: '已处置', closed: '已结案',
    evaluated: '已评价', rejected: '不予立案', merged: '已合并' },
  en: { reported: 'awaiting filing', filed: 'filed', dispatched: 'dispatched', handling: 'on site', handled: 'handled',
    closed: 'closed', evaluated: 'evaluated', rejected: 'rejected', merged: 'merged' },
};
const ACTION = {
  zh: { report: '上报', file: '立案', dispatch: '派遣', start: '到场处置', feedback: '处置反馈', close: '核查结案',
    evaluate: '评价', reject: '不予立案', merge: '合并', escalate: '超时升级', reopen: '重新打开' },
  en: { report: 'reported', file: 'filed', dispatch: 'dispatched', start: 'on site', feedback: 'handled',
    close: 'verified and closed', evaluate: 'evaluated', reject: 'rejected', merge: 'merged', escalate: 'escalated',
    reopen: 'reopened' },
};
const t = (k) => I18N[S.lang][k] ?? I18N.zh[k] ?? k;
const statusName = (s) => STATUS[S.lang][s] || s;
const actionName = (a) => ACTION[S.lang][a] || a;
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function catName(code) {
  const c = S.net && S.net.categories[code];
  if (!c) return code;
  return S.lang === 'en' && c.en ? c.en : c.name;
}

function deptName(code) {
  const d = S.net && S.net.departments && S.net.departments[code];
  if (!d) return code;
  return S.lang === 'en' && d.en ? d.en : d.name;
}

// ---- Time: the simulated clock, shown in Beijing time. ------------------------------------------------------
const nowMs = () => S.net.epoch_ms + (S.frame ? S.frame.t : 0) * 1000;
const beijing = (ms) => new Date(ms + 8 * 3600 * 1000).toISOString().substring(11, 19);
const fmtClock = (t) => beijing(S.net.epoch_ms + t * 1000);
function fmtSpan(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + `:${String(r).padStart(2, '0')}`;
}

// ---- The map: fitted to the network, then zoomed and panned by the operator. --------------------------------
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
  const k = Math.min(w / Math.max(1, x1 - x0), h / Math.max(1, y1 - y0)) * 0.94 * S.zoom;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  return {
    k,
    x: (x) => w / 2 + (x - cx) * k + S.panX,
    y: (y) => h / 2 - (y - cy) * k + S.panY,
    ix: (sx) => cx + (sx - w / 2 - S.panX) / k,
    iy: (sy) => cy - (sy - h / 2 - S.panY) / k,
  };
}

/// Congestion by occupancy: the length of the vehicles on a road against the length of its lanes, so that one
/// car waiting at a red light leaves a road green and a queue filling it turns it red (the legend says so).
function roadColour(f, i) {
  if (!f || !f.occupancy) return '#2a6b3a';
  const occ = f.occupancy[i];
  if (occ <= 0) return '#2a6b3a';  // empty road
  const hue = 120 * (1 - Math.min(1, occ / 50));
  return `hsl(${hue}, 78%, 48%)`;
}

/// The filters of the case list, applied to the map as well.
function visible(c) {
  const cat = $('f-cat').value, status = $('f-status').value;
  return (!cat || c.category === cat) &&
    (!status || (status === 'open' ? OPEN.has(c.status) : !OPEN.has(c.status)));
}

function drawMap() {
  if (!S.net) return;
  const { ctx, w, h } = sizeCanvas($('map'));
  const P = project(w, h);
  S.view = P;
  window.cbStats.scale = P.k;
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
    const off = Math.max(1.5, Math.min(5 * S.zoom, road.lanes * 1.1 * P.k * 3.2 / 2));
    const nx = (by - ay) / len * off, ny = -(bx - ax) / len * off;
    ctx.strokeStyle = roadColour(f, i);
    ctx.lineWidth = Math.max(1.5, Math.min(6 * S.zoom, road.lanes * P.k * 3.2 / 2));
    ctx.beginPath();
    pts.forEach(([x, y], j) => {
      const sx = P.x(x) + nx, sy = P.y(y) - ny;
      if (j === 0) ctx.moveTo(sx, sy); else ctx.lineTo(sx, sy);
    });
    ctx.stroke();
    roads++;
    // The signal at the road's end: the light for its through movement.
    if (f && f.lights && f.lights[i] >= 0) {
      const t = 0.86, lx = ax + (bx - ax) * t, ly = ay + (by - ay) * t;
      ctx.fillStyle = ['#e0392b', '#f2c12e', '#2fbf4a'][f.lights[i]];
      ctx.beginPath();
      ctx.arc(P.x(lx) + nx, P.y(ly) - ny, 2.4, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
  window.cbStats.roadsDrawn = roads;
  ctx.fillStyle = '#cfd8e3';
  S.net.nodes.forEach((n, i) => {
    if (!n.signal) return;
    const s = S.node === i ? 8 : 4;
    if (S.node === i) ctx.fillStyle = '#ffe066';
    ctx.fillRect(P.x(n.x) - s / 2, P.y(n.y) - s / 2, s, s);
    ctx.fillStyle = '#cfd8e3';
  });
  // Street names once zoomed in: each name once per stretch of screen.
  ctx.font = `11px ${FONTS}`;
  if (S.zoom >= 1.6) {
    const placed = [];
    ctx.fillStyle = '#7f93a8';
    S.net.roads.forEach((road) => {
      if (!road.name || road.pts.length < 2) return;
      const [ax, ay] = road.pts[0], [bx, by] = road.pts[road.pts.length - 1];
      const sx = P.x((ax + bx) / 2), sy = P.y((ay + by) / 2);
      if (sx < 0 || sy < 0 || sx > w || sy > h) return;
      if (placed.some(([n, x, y]) => n === road.name && Math.hypot(x - sx, y - sy) < 160)) return;
      placed.push([road.name, sx, sy]);
      ctx.fillText(road.name, sx + 4, sy - 4);
    });
  }
  // Depots and low points.
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = 1;
  S.net.depots.forEach(([x, y]) => { ctx.strokeRect(P.x(x) - 7, P.y(y) - 7, 14, 14); });
  S.net.low_points.forEach(([x, y], i) => {
    const level = f && f.water_cm ? f.water_cm[i] : 0;
    ctx.fillStyle = level > 5 ? 'rgba(30,123,224,0.45)' : 'rgba(30,123,224,0.15)';
    ctx.beginPath();
    ctx.arc(P.x(x), P.y(y), 6 + Math.min(30, level) * 0.8, 0, 2 * Math.PI);
    ctx.fill();
  });
  (S.net.landmarks || []).forEach(([name, x, y]) => {
    ctx.fillStyle = '#c9a6ff';
    ctx.fillRect(P.x(x) - 3, P.y(y) - 3, 6, 6);
    ctx.fillStyle = '#9fb3c8';
    ctx.fillText(name, P.x(x) + 6, P.y(y) - 4);
  });
  if (!f) return;
  let cases = 0;
  f.cases.forEach((c) => {
    if (!c.xy || !visible(c)) return;
    const open = OPEN.has(c.status);
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
  // Units under way: the rest of the brain's planned path, bright for the unit the operator selected.
  ctx.setLineDash([5, 4]);
  let routes = 0;
  f.units.forEach(([x, y, , job, , path], i) => {
    if (!path) return;
    routes++;
    const target = f.cases.find((c) => c.id === job);
    const on = S.unit === i;
    ctx.strokeStyle = on ? '#ffe066' : 'rgba(159,208,255,0.45)';
    ctx.lineWidth = on ? 2.5 : 1.2;
    ctx.beginPath();
    ctx.moveTo(P.x(x), P.y(y));
    for (let k = 0; k + 1 < path.length; k += 2) ctx.lineTo(P.x(path[k]), P.y(path[k + 1]));
    if (target && target.xy) ctx.lineTo(P.x(target.xy[0]), P.y(target.xy[1]));
    ctx.stroke();
  });
  ctx.setLineDash([]);
  window.cbStats.routesDrawn = routes;
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

/// Roads ending at each signalised junction: the approaches whose lights the junction panel shows.
function indexApproaches() {
  S.incoming = S.net.nodes.map(() => []);
  S.net.roads.forEach((road, i) => {
    const [ex, ey] = road.pts[road.pts.length - 1];
    let best = -1, bestD = 40 * 40;
    S.net.nodes.forEach((n, j) => {
      const d = (n.x - ex) ** 2 + (n.y - ey) ** 2;
      if (d < bestD) { bestD = d; best = j; }
    });
    if (best >= 0) S.incoming[best].push(i);
  });
}

function bearing(road) {
  const [ax, ay] = road.pts[0], [bx, by] = road.pts[road.pts.length - 1];
  const deg = (Math.atan2(bx - ax, by - ay) * 180 / Math.PI + 360) % 360;  // 0 = heading north
  const zh = ['北向', '东北向', '东向', '东南向', '南向', '西南向', '西向', '西北向'];
  const en = ['northbound', 'north-eastbound', 'eastbound', 'south-eastbound', 'southbound', 'south-westbound',
    'westbound', 'north-westbound'];
  return (S.lang === 'en' ? en : zh)[Math.round(deg / 45) % 8];
}

function unitCondition([battery, lost, charging]) {
  const parts = [];
  if (battery >= 0) parts.push(`${t('battery')} ${battery}%`);
  if (charging) parts.push(t('charging'));
  if (lost) parts.push(`<b class="late">${t('why_lost')}</b>`);
  return parts.length ? `<br><small class="unit-condition">${parts.join(' · ')}</small>` : '';
}

function renderUnit() {
  const box = $('node-info');
  const f = S.frame;
  const u = S.net.units[S.unit];
  const [, , mode, job, eta, path] = f.units[S.unit];
  const c = job ? f.cases.find((x) => x.id === job) : null;
  box.innerHTML = `<b>${esc(u.name)}</b> · ${t(`kind_${u.kind}`)} <a href="#" id="node-close">×</a><br>` +
    `${t(`mode_${mode}`)} · ${t('task')}: ` +
    (c ? `<a href="#" id="unit-case">#${c.id} ${esc(catName(c.category))} · ${esc(c.place || '')}</a>` : t('no_task')) +
    (f.fleet && f.fleet[S.unit] ? unitCondition(f.fleet[S.unit]) : '') +
    (path ? `<br><small class="unit-route">${t('route')}: ${path.length / 2} ${t('junctions_left')} · ` +
      `${t('eta')} ${fmtSpan(eta * 1000)}</small>` : '');
  box.hidden = false;
  $('node-close').onclick = (e) => { e.preventDefault(); S.unit = null; renderNode(); };
  if (c) $('unit-case').onclick = (e) => { e.preventDefault(); selectCase(c.id); };
}

function renderNode() {
  const box = $('node-info');
  if (S.unit !== null && S.net && S.frame) return renderUnit();
  if (S.node === null || !S.net) { box.hidden = true; return; }
  const n = S.net.nodes[S.node];
  const f = S.frame;
  const rows = S.incoming[S.node].map((i) => {
    const road = S.net.roads[i];
    const light = f && f.lights ? f.lights[i] : -1;
    const lightText = light >= 0 ? t(`light_${light}`) : t('no_signal');
    const queue = f && f.queue ? ` · ${t('queue')} ${f.queue[i]}` : '';
    return `<li>${esc(road.name || t('approach'))} · ${bearing(road)} · <b class="light-${light}">${lightText}</b>${queue}</li>`;
  });
  // The controller and the reasons of its last decision here (each phase's score; max-pressure: its pressure).
  const sig = f && f.signals ? f.signals.find((x) => x.node === S.node) : null;
  let why = '';
  if (sig) {
    why = `<small>${t('controller')}: ${esc(f.controller || '')} · ${t('phase')} ${sig.phase}</small>`;
    // The last decisions here, newest first, each with its reasons (max-pressure: every phase's pressure).
    const decisions = (S.decisions.get(S.node) || []).slice().reverse();
    const label = f.controller === 'maxpressure' ? 'pressures' : f.controller === 'learned' ? 'scores' : 'scores_other';
    if (decisions.length) why += `<br><small>${t(label)}</small><ol class="why-signal">` + decisions.map((d) => {
      const scores = d.scores.map(([p, v]) => (p === d.chose ? `<b>${p}: ${v}</b>` : `${p}: ${v}`)).join(' · ');
      return `<li>${fmtClock(d.decided_s)} ${t('chose_phase')} ${d.chose} (${scores})</li>`;
    }).join('') + '</ol>';
  }
  box.innerHTML = `<b>${esc(n.name || t('junction'))}</b> <a href="#" id="node-close">×</a><br>` + why +
    `<br><small>${t('signal_now')}</small><ul>${rows.join('')}</ul>`;
  box.hidden = false;
  $('node-close').onclick = (e) => { e.preventDefault(); S.node = null; renderNode(); drawMap(); };
}

function mapClick(sx, sy) {
  const P = S.view;
  if (!P || !S.frame) return;
  let best = null, bestD = 12 * 12;
  S.frame.cases.forEach((c) => {
    if (!c.xy || !visible(c)) return;
    const d = (P.x(c.xy[0]) - sx) ** 2 + (P.y(c.xy[1]) - sy) ** 2;
    if (d < bestD) { bestD = d; best = c.id; }
  });
  if (best !== null) return selectCase(best);
  let unit = null;
  bestD = 10 * 10;
  S.frame.units.forEach(([x, y], i) => {
    const d = (P.x(x) - sx) ** 2 + (P.y(y) - sy) ** 2;
    if (d < bestD) { bestD = d; unit = i; }
  });
  S.unit = unit;
  if (unit !== null) { S.node = null; renderNode(); return; }
  let node = null;
  bestD = 14 * 14;
  S.net.nodes.forEach((n, i) => {
    if (!n.signal) return;
    const d = (P.x(n.x) - sx) ** 2 + (P.y(n.y) - sy) ** 2;
    if (d < bestD) { bestD = d; node = i; }
  });
  S.node = node;
  renderNode();
  drawMap();
}

function bindMap() {
  const c = $('map');
  c.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = c.getBoundingClientRect();
    const sx = e.clientX - r.left, sy = e.clientY - r.top;
    const P = S.view;
    const wx = P.ix(sx), wy = P.iy(sy);
    S.zoom = Math.max(0.5, Math.min(40, S.zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
    // Keep the point under the cursor where it is.
    const Q = project(r.width, r.height);
    S.panX += sx - Q.x(wx);
    S.panY += sy - Q.y(wy);
    drawMap();
  }, { passive: false });
  c.addEventListener('mousedown', (e) => { S.drag = { x: e.clientX, y: e.clientY, moved: false }; });
  window.addEventListener('mousemove', (e) => {
    if (!S.drag) return;
    const dx = e.clientX - S.drag.x, dy = e.clientY - S.drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) S.drag.moved = true;
    if (!S.drag.moved) return;
    S.panX += dx;
    S.panY += dy;
    S.drag.x = e.clientX;
    S.drag.y = e.clientY;
    drawMap();
  });
  window.addEventListener('mouseup', (e) => {
    const d = S.drag;
    S.drag = null;
    if (!d || d.moved || e.target !== c) return;
    const r = c.getBoundingClientRect();
    mapClick(e.clientX - r.left, e.clientY - r.top);
  });
  c.addEventListener('dblclick', () => { S.zoom = 1; S.panX = 0; S.panY = 0; drawMap(); });
}

// ---- Chart, KPIs, list. -------------------------------------------------------------------------------------
function drawChart() {
  const { ctx, w, h } = sizeCanvas($('chart'));
  ctx.fillStyle = '#16202c';
  ctx.fillRect(0, 0, w, h);
  const s = S.series;
  if (!S.net || s.length < 1) return;
  const T = S.net.duration_s || Math.max(60, s[s.length - 1][0]);
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
  ctx.font = `11px ${FONTS}`;
  ctx.fillStyle = '#8aa0b6';
  ctx.fillText(`${t('kpi_vehicles')} (max ${Math.round(maxV)})`, 34, 12);
  ctx.fillStyle = '#e84393';
  ctx.fillText(`${t('kpi_cases')} (max ${Math.round(maxC)})`, w / 2, 12);
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
  if (f.duration_s) $('progress-bar').style.width = `${Math.min(100, 100 * f.t / f.duration_s)}%`;
  const wet = (f.water_cm || []).map((l) => l.toFixed(0)).join(' / ');
  $('weather').textContent = `${f.raining ? t('rain') : t('dry')} · ${t('water')} ${wet} cm` +
    (f.speedup ? ` · ${t('speedup')} ×${num(f.speedup)}` : '');
}

function renderCases() {
  const f = S.frame;
  if (!f) return;
  const seen = new Set([...$('f-cat').options].map((o) => o.value));
  f.cases.forEach((c) => {
    if (!seen.has(c.category)) {
      seen.add(c.category);
      const o = document.createElement('option');
      o.value = c.category;
      $('f-cat').appendChild(o);
    }
  });
  [...$('f-cat').options].forEach((o) => { if (o.value) o.textContent = catName(o.value); });
  const rows = f.cases.filter(visible).slice(-150).reverse();
  const body = $('cases').tBodies[0];
  body.replaceChildren(...rows.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    tr.dataset.status = c.status;
    if (S.selected === c.id) tr.className = 'sel';
    tr.innerHTML = `<td>${c.id}</td><td>${esc(catName(c.category))}</td><td>${esc(c.place || '')}</td>` +
      `<td><span class="st st-${c.status}">${statusName(c.status)}</span></td>` +
      `<td>${esc(deptName(c.department))}</td><td>${c.report_count}</td>`;
    tr.onclick = () => selectCase(c.id);
    return tr;
  }));
}

// ---- Needs attention: what a person must decide or chase. --------------------------------------------------
function attentionItems() {
  const f = S.frame;
  if (!f) return [];
  const items = [];
  f.cases.forEach((c) => {
    if (!OPEN.has(c.status)) return;
    if (c.status === 'reported') items.push({ c, kind: 'review', rank: 0 });
    else if (c.overdue || c.escalations > 0) items.push({ c, kind: c.overdue ? 'late' : 'escalated', rank: 1 });
    else if (c.priority === 1 && !c.unit && c.status === 'filed') items.push({ c, kind: 'p1', rank: 2 });
  });
  // Units as they report themselves (a live fleet; the simulated district models no batteries): lost ones, and
  // robots within 10 points of the level below which they take no order.
  (f.fleet || []).forEach(([battery, lost, charging], i) => {
    if (lost) items.push({ u: i, kind: 'lost', rank: 1, battery, charging });
    else if (battery >= 0 && battery < (f.min_battery ?? 15) + 10) {
      items.push({ u: i, kind: 'battery', rank: 3, battery, charging });
    }
  });
  items.sort((a, b) => a.rank - b.rank || (a.c ? a.c.id : 1e9 + a.u) - (b.c ? b.c.id : 1e9 + b.u));
  return items;
}

function unitAttention(item) {
  const li = document.createElement('li');
  const u = S.net.units[item.u];
  li.dataset.unit = item.u;
  li.dataset.kind = item.kind;
  const why = item.kind === 'lost' ? t('why_lost') : t('why_battery');
  li.innerHTML = `<span class="why why-${item.kind}">${why}</span> <b>${esc(u.name)}</b> ${t(`kind_${u.kind}`)}` +
    (item.battery >= 0 ? ` · ${t('battery')} ${item.battery}%` : '') + (item.charging ? ` · ${t('charging')}` : '');
  li.onclick = () => { S.unit = item.u; S.node = null; renderNode(); drawMap(); };
  return li;
}

/// The decision a human-queue message waits for: one button per classifier guess (category and confidence),
/// a list of every other category (where the view is not redrawn under the operator's hand), and reject.
function decisionControls(c, withList = true) {
  const box = document.createElement('span');
  box.className = 'decide';
  const guesses = c.guesses || [];
  const label = document.createElement('small');
  label.textContent = `${t('guesses')}: ` + (guesses.length ? '' : t('no_guess'));
  box.appendChild(label);
  guesses.forEach((g) => {
    const b = document.createElement('button');
    b.dataset.act = 'file';
    b.dataset.category = g.category;
    b.title = `${t('file_as')} ${catName(g.category)}`;
    b.textContent = `${catName(g.category)} ${Math.round(100 * g.confidence)}%`;
    b.onclick = (e) => { e.stopPropagation(); act(c.id, 'file', g.category); };
    box.appendChild(b);
  });
  if (withList) {
    const pick = document.createElement('select');
    pick.className = 'pick-category';
    pick.innerHTML = `<option value="">${t('other_category')}</option>` + Object.keys(S.net.categories)
      .map((code) => `<option value="${esc(code)}">${esc(catName(code))}</option>`).join('');
    pick.onclick = (e) => e.stopPropagation();
    pick.onchange = () => { if (pick.value) act(c.id, 'file', pick.value); };
    box.appendChild(pick);
  }
  const reject = document.createElement('button');
  reject.dataset.act = 'reject';
  reject.textContent = t('act_reject');
  reject.onclick = (e) => { e.stopPropagation(); act(c.id, 'reject'); };
  box.appendChild(reject);
  return box;
}

function renderAttention() {
  const items = attentionItems();
  window.cbStats.attention = items.length;
  $('attention-count').textContent = items.length;
  // Redrawn only when it changes, so that an operator's open category list is not swept away by the next frame.
  const shown = items.slice(0, 40);
  const signature = S.lang + shown.map((it) => (it.c ? `${it.c.id}:${it.kind}:${it.c.place}`
    : `u${it.u}:${it.kind}:${it.battery}:${it.charging}`)).join(',');
  if (signature === S.attentionSignature) return;
  S.attentionSignature = signature;
  $('attention').replaceChildren(...shown.map((item) => {
    if (!item.c) return unitAttention(item);
    const { c, kind } = item;
    const li = document.createElement('li');
    li.dataset.id = c.id;
    li.dataset.kind = kind;
    const why = { review: c.xy ? t('why_review') : t('why_no_place'), late: t('why_late'),
      escalated: t('why_escalated'), p1: t('why_p1') }[kind];
    li.innerHTML = `<span class="why why-${kind}">${why}</span> <b>#${c.id}</b> ${esc(catName(c.category))} · ` +
      `${esc(c.place || '')}` + (kind === 'review' && c.description ? `<br><q>${esc(c.description.slice(0, 80))}</q><br>` : '');
    if (kind === 'review') li.appendChild(decisionControls(c));
    li.onclick = () => selectCase(c.id);
    return li;
  }));
}

// ---- Case detail, read from /api/v1/cases/{id} with the operator's key. -------------------------------------
async function api(method, path, body) {
  const headers = { 'X-API-Key': S.key || '' };
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.message || `HTTP ${r.status}`);
  return j;
}

function operatorName() {
  return $('operator').value.trim() || t('operator');
}

async function act(id, action, category) {
  try {
    const body = { action, actor: operatorName(), note: S.lang === 'en' ? 'from the console' : '控制台操作' };
    if (category) body.category = category;
    await api('POST', `/api/v1/cases/${id}/transitions`, body);
    S.note = `#${id} ${actionName(action)}${category ? ` · ${catName(category)}` : ''} · ${t('done_action')}`;
  } catch (e) {
    S.note = `#${id} ${actionName(action)}: ${e.message}`;
  }
  S.selected = id;
  await loadDetail(true);
}

// ---- The citizen channel: write as a citizen, read the agents' answer (POST /api/v1/messages). -------------
function chatLine(who, text, caseId) {
  const li = document.createElement('li');
  li.className = who;
  li.textContent = text;
  if (caseId) {
    const a = document.createElement('a');
    a.href = '#';
    a.textContent = ` → ${t('chat_case')} #${caseId}`;
    a.onclick = (e) => { e.preventDefault(); selectCase(caseId); };
    li.appendChild(a);
  }
  $('chat-log').appendChild(li);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
  return li;
}

async function sendChat(e) {
  e.preventDefault();
  const text = $('chat-text').value.trim();
  const citizen = $('chat-citizen').value.trim();
  if (!text || !citizen) return;
  $('chat-text').value = '';
  chatLine('citizen', text);
  try {
    const r = await api('POST', '/api/v1/messages', { citizen_id: citizen, text });
    const li = chatLine(`agent intent-${r.intent}`, r.reply, r.case_id);
    li.dataset.intent = r.intent;
    li.title = `${r.agent} · ${r.intent}`;
  } catch (err) {
    chatLine('agent failed', `${t('chat_failed')}: ${err.message}`);
  }
}

function selectCase(id) {
  S.selected = id;
  S.detail = null;
  S.note = '';
  loadDetail(true);
  renderCases();
  drawMap();
}

async function loadDetail(force) {
  const id = S.selected;
  if (id === null || !S.key) { renderDetail(); return; }
  if (!force && Date.now() - S.detailAt < 1500) return;
  S.detailAt = Date.now();
  try {
    const d = await api('GET', `/api/v1/cases/${id}`);
    if (S.selected === id) { S.detail = d; S.detailError = null; }
  } catch (e) {
    S.detailError = e.message;
  }
  renderDetail();
}

/// A camera's snapshot (the frame with the event's boxes drawn) is served to operators only, so it is fetched with
/// the key and shown from a blob; each is fetched once.
function isSnapshot(url) {
  return typeof url === 'string' && url.startsWith('/api/v1/snapshots/');
}

async function showSnapshot(img) {
  const url = img.dataset.src;
  if (!S.shots.has(url)) {
    S.shots.set(url, fetch(url, { headers: { 'X-API-Key': S.key || '' } })
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
      .then((b) => URL.createObjectURL(b))
      .catch((e) => { S.shots.delete(url); throw e; }));
  }
  try {
    img.src = await S.shots.get(url);
  } catch (e) {
    img.alt = `${t('snapshot')}: ${e.message}`;
  }
}

/// An event's note, with a category change in the operator's words (the record keeps the service codes).
function noteText(note) {
  return esc(note).replace(/category (\S+) -&#62; (\S+)/,
    (m, a, b) => `${S.lang === 'en' ? 'category' : '类别'} ${esc(catName(a))} → ${esc(catName(b))}`);
}

function renderDetail() {
  const box = $('detail');
  if (S.selected === null) { box.textContent = t('select_case'); return; }
  if (!S.key) {
    box.innerHTML = `${t('sign_in')} <input id="key-input" type="password" size="24"> ` +
      `<button id="key-button">${t('sign_in_button')}</button>`;
    $('key-button').onclick = () => {
      S.key = $('key-input').value.trim();
      sessionStorage.setItem('cb-key', S.key);
      loadDetail(true);
    };
    return;
  }
  const d = S.detail;
  if (!d || d.id !== S.selected) {
    box.textContent = S.detailError ? `#${S.selected}: ${S.detailError}` : t('loading');
    return;
  }
  const live = S.frame && S.frame.cases.find((x) => x.id === d.id);
  const lines = [];
  lines.push(`<b>#${d.id} ${esc(catName(d.category))}</b> <span class="st st-${d.status}">${statusName(d.status)}</span>` +
    ` · ${t('priority')} ${d.priority}`);
  lines.push(`${t('place')}: <b class="place">${esc(d.place || '–')}</b> · ${t('department')}: ${esc(deptName(d.department))}`);
  if (d.deadline) {
    const left = Date.parse(d.deadline) - nowMs();
    lines.push(`${t('deadline')}: ${beijing(Date.parse(d.deadline))} · ` +
      (left >= 0 ? `${t('left')} <span class="countdown">${fmtSpan(left)}</span>`
        : `<span class="late">${t('overdue_by')} ${fmtSpan(left)}</span>`));
  }
  if (live && live.unit) lines.push(`${t('unit')}: ${esc(live.unit)}`);
  const reports = (d.reports || []).map((r) =>
    `<li>${beijing(Date.parse(r.time))} · ${t(`source_${r.source}`)}: ${esc(r.description || '')}` +
    (isSnapshot(r.media_url) ? `<br><img class="snapshot" alt="${t('snapshot')}" data-src="${esc(r.media_url)}">` : '') +
    '</li>');
  lines.push(`${t('original')}:<ul class="reports">${reports.join('')}</ul>`);
  if (d.report_count > 1) lines.push(`${t('duplicates')}: ${d.report_count - 1}`);
  if (live && live.reply) {
    const at = live.reply_time ? ` (${beijing(Date.parse(live.reply_time))})` : '';
    lines.push(`${t('reply')}${at}: <span class="reply">${esc(live.reply)}</span>`);
  }
  if (live && live.notice) lines.push(`${esc(live.notice)}`);
  const history = (d.history || []).map((e) =>
    `<li data-action="${esc(e.action)}">${beijing(Date.parse(e.time))} · <b>${actionName(e.action)}</b> · ` +
    `${esc(e.actor)}${e.via ? ` (${esc(e.via)})` : ''}${e.note ? ` · ${noteText(e.note)}` : ''}</li>`);
  lines.push(`${t('timeline')}:<ol class="timeline">${history.join('')}</ol>`);
  const actions = d.status === 'handled' ? ['close'] : [];
  lines.push(actions.map((a) => `<button data-act="${a}">${t(`act_${a}`)}</button>`).join(' ') +
    '<span id="detail-decide"></span>' + (S.note ? ` <small class="note">${esc(S.note)}</small>` : ''));
  box.innerHTML = lines.join('<br>');
  box.querySelectorAll('img.snapshot').forEach(showSnapshot);
  box.querySelectorAll('button[data-act]').forEach((b) => { b.onclick = () => act(d.id, b.dataset.act); });
  // A message awaiting filing: the same decision as in the needs-attention list (the guesses come with the detail).
  if (d.status === 'reported') $('detail-decide').appendChild(decisionControls(d, false));
}

// ---- End of the run: the summary stays. ---------------------------------------------------------------------
function renderSummary() {
  const f = S.frame;
  if (!f || !f.finished) { $('summary').hidden = true; return; }
  const k = f.kpi;
  $('summary').innerHTML = `<b>${t('run_finished')}</b><br>` +
    `${t('summary_cases')} ${k.cases_total} · ${t('summary_closed')} ${k.cases_closed} · ` +
    `${t('summary_met')} ${num(100 * k.deadline_met_ratio, 1)} %<br>` +
    `${t('summary_att')}: ${num(k.att_adaptive_s, 1)} / ${num(k.att_fixed_s, 1)} s · ` +
    `${t('summary_reached')} ${k.reached}`;
  $('summary').hidden = false;
}

function renderConn(state) {
  if (state) $('conn').dataset.state = state;
  const s = S.finished ? 'finished' : $('conn').dataset.state;
  $('conn').textContent = t(s);
  $('conn').className = `conn ${s === 'live' ? 'on' : s === 'finished' ? 'done' : 'off'}`;
}

function renderAll() {
  drawMap();
  drawChart();
  renderKpis();
  renderAttention();
  renderCases();
  renderDetail();
  renderNode();
  renderSummary();
  renderConn();
}

function applyLang(render = true) {
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $('lang').textContent = S.lang === 'zh' ? 'EN' : '中文';
  $('operator').placeholder = t('operator');
  $('chat-text').placeholder = t('chat_placeholder');
  if (S.net && render) renderAll();
}

/// Shows frame `f` everywhere (a live one, or one from the scrubber's history).
function showFrame(f) {
  S.frame = f;
  drawMap();
  drawChart();
  renderKpis();
  renderAttention();
  renderCases();
  renderNode();
  renderSummary();
  renderConn();
}

function renderScrub() {
  const n = S.history.length;
  const r = $('scrub');
  r.max = Math.max(0, n - 1);
  if (S.replay === null) r.value = r.max;
  $('scrub-label').textContent = S.replay === null ? '' : `${t('replay')} ${fmtClock(S.history[S.replay].t)}`;
  $('scrub-live').hidden = S.replay === null;
}

function bindScrub() {
  $('scrub').oninput = () => {
    const i = Number($('scrub').value);
    S.replay = i >= S.history.length - 1 ? null : i;
    showFrame(S.replay === null ? S.live : S.history[S.replay]);
    renderScrub();
  };
  $('scrub-live').onclick = () => { S.replay = null; showFrame(S.live); renderScrub(); };
}

/// Keeps each junction's last five controller decisions as the live frames report them (a frame carries only the
/// latest), so that the junction panel can show what was chosen, when, and why.
function recordDecisions(f) {
  for (const sig of f.signals || []) {
    if (!sig.scores) continue;
    const list = S.decisions.get(sig.node) || [];
    if (list.length && list[list.length - 1].decided_s === sig.decided_s) continue;
    list.push({ decided_s: sig.decided_s, chose: sig.chose, scores: sig.scores });
    if (list.length > 5) list.shift();
    S.decisions.set(sig.node, list);
  }
}

function applyFrame(f) {
  S.live = f;
  recordDecisions(f);
  const last = S.history[S.history.length - 1];
  if (!last || f.t - last.t >= HISTORY_STEP_S || f.finished) S.history.push(f);
  if (S.history.length > HISTORY_FRAMES) S.history.splice(0, S.history.length - HISTORY_FRAMES);
  if (f.finished) S.finished = true;
  if (f.series) S.series = f.series;
  else if (f.point && (!S.series.length || S.series[S.series.length - 1][0] < f.point[0])) S.series.push(f.point);
  window.cbStats.frames = ++S.frames;
  if (S.replay !== null) { renderScrub(); return; }  // the operator is looking back: the live view waits
  showFrame(f);
  renderScrub();
  loadDetail(false);
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => renderConn('live');
  ws.onmessage = (e) => applyFrame(JSON.parse(e.data));
  ws.onclose = () => {
    renderConn('offline');
    if (!S.finished) setTimeout(connect, 1000);  // a finished run keeps its summary on screen
  };
}

function takeKey() {
  // The console's key arrives in the address's fragment (never sent to a server) and moves to this tab's
  // session storage; the fragment is then cleared from the address bar.
  const m = location.hash.match(/key=([0-9A-Za-z._-]+)/);
  if (m) {
    sessionStorage.setItem('cb-key', m[1]);
    history.replaceState(null, '', location.pathname + location.search);
  }
  S.key = sessionStorage.getItem('cb-key');
}

async function init() {
  takeKey();
  $('operator').value = localStorage.getItem('cb-operator') || '';
  $('operator').onchange = () => localStorage.setItem('cb-operator', $('operator').value.trim());
  $('lang').onclick = () => {
    S.lang = S.lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('cb-lang', S.lang);
    applyLang();
  };
  // The network and the current state, fetched together: the first frame is drawn as soon as both are here.
  const [net, state] = await Promise.all([
    fetch('/api/network').then((r) => r.json()),
    fetch('/api/state').then((r) => r.json()).catch(() => null),
  ]);
  S.net = net;
  indexApproaches();
  applyLang(false);  // the first frame below draws everything once
  if (state) applyFrame(state); else renderAll();
  // When the first frame is on screen (the next animation frame after it was drawn), from navigation start: what
  // the console's benchmark reports as the page's time to interactive.
  requestAnimationFrame(() => { window.cbStats.firstFrameMs = performance.now(); });
  $('chat-form').onsubmit = sendChat;
  $('f-cat').onchange = () => { renderCases(); drawMap(); };
  $('f-status').onchange = () => { renderCases(); drawMap(); };
  bindMap();
  bindScrub();
  window.addEventListener('resize', () => { drawMap(); drawChart(); });
  // For tests and bookmarks: where a junction is drawn, and selecting by id.
  window.cbConsole = {
    nodeOnScreen: (i) => ({ x: S.view.x(S.net.nodes[i].x), y: S.view.y(S.net.nodes[i].y) }),
    unitOnScreen: (i) => ({ x: S.view.x(S.frame.units[i][0]), y: S.view.y(S.frame.units[i][1]) }),
    signalNodes: () => S.net.nodes.map((n, i) => (n.signal ? i : -1)).filter((i) => i >= 0),
    unitsUnderWay: () => S.frame.units.map((u, i) => (u[5] ? i : -1)).filter((i) => i >= 0),
    selectUnit: (i) => { S.unit = i; S.node = null; renderNode(); drawMap(); },
    selectCase,
  };
  connect();
}

init();
