#include "demo_page.h"

namespace micq::serve {

// One static page, no build step, no external assets (it works offline).
// With `control=<url>` (micq up adds it) the chart and counters come from
// up's demo control, which reads serve, the aggregator and the sim, and
// the controls work; without it the page reads serve's own /metrics.
std::string_view demo_page_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>micq — mic queue</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:15px system-ui,sans-serif;margin:0;background:#14111f;color:#eee}
 header{padding:12px 20px;background:#221c36;display:flex;gap:16px;align-items:baseline;flex-wrap:wrap}
 header h1{font-size:18px;margin:0} header span{color:#aaa}
 #warning{display:none;padding:8px 20px;background:#7a4b00;color:#ffe2a8;font-weight:600}
 #warning.error{background:#7a1020;color:#ffd0d6}
 #bar{display:flex;flex-wrap:wrap;gap:10px;padding:14px 20px;position:relative}
 .seat{width:96px;background:#2b2442;border-radius:12px;padding:8px;text-align:center;
  transition:transform .6s ease}
 .rank{font-weight:700;color:#ffcc4d} .avatar{width:42px;height:42px;border-radius:50%;margin:5px auto;
  display:flex;align-items:center;justify-content:center;font-weight:700;background:#6c4bd8}
 .uid{font-size:13px;word-break:break-all} .score{color:#9fe0a6;font-size:13px}
 .badges{margin-top:5px;display:flex;flex-wrap:wrap;gap:3px;justify-content:center}
 .badge{font-size:11px;background:#3d335e;border-radius:8px;padding:1px 6px}
 main{display:flex;flex-wrap:wrap;gap:16px;padding:0 20px 16px}
 section{background:#1d1830;border-radius:10px;padding:12px}
 #chartbox{flex:1 1 560px;min-width:300px;align-self:flex-start} svg{width:100%;height:220px;display:block}
 .grid{stroke:#2f2850;stroke-width:1} .axis{fill:#777;font-size:10px}
 .line{fill:none;stroke-width:2}
 #legend{display:flex;flex-wrap:wrap;gap:14px;font-size:13px;margin-top:6px}
 #legend b{font-size:15px} .dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
 #side{flex:0 1 300px;display:flex;flex-direction:column;gap:12px}
 .counters{display:grid;grid-template-columns:1fr 1fr;gap:8px}
 .counters b{display:block;font-size:19px;color:#fff} .counters div{color:#aaa;font-size:12px}
 button{background:#3d335e;color:#eee;border:1px solid #5b4d8a;border-radius:8px;padding:6px 10px;
  font:inherit;font-size:13px;cursor:pointer;margin:2px} button.on{background:#6c4bd8}
 #controls p{margin:4px 0 8px;color:#aaa;font-size:12px}
 #status{padding:0 20px 4px;color:#888;font-size:12px}
 #instances{padding:0 20px 12px;color:#888;font-size:12px;display:flex;flex-wrap:wrap;gap:12px}
 #instances b{color:#ddd}
</style></head><body>
<header><h1>Mic queue</h1><span id="room"></span><span id="meta"></span></header>
<div id="warning"></div>
<div id="bar"></div>
<main>
 <section id="chartbox">
  <div>The last 60 s, per second (log scale)</div>
  <svg id="chart" viewBox="0 0 600 220" preserveAspectRatio="none"></svg>
  <div id="legend"></div>
 </section>
 <div id="side">
  <section class="counters">
   <div><b id="share">–</b>answers 304 (last 10 s)</div><div><b id="reduction">–</b>requests per page build</div>
   <div><b id="hits">–</b>cache hits</div><div><b id="loads">–</b>page builds</div>
   <div><b id="coalesced">–</b>callers coalesced</div><div><b id="waits">–</b>requests that waited</div>
   <div><b id="stale">–</b>stale serves</div><div><b id="requests">–</b>list requests</div>
  </section>
  <section id="controls" hidden>
   <div>Event rate</div><p>A quiet room, or a hot one: events cost a Redis read, not a wait.</p>
   <div id="rates"></div>
   <div style="margin-top:10px">Aggregator</div><p>Stopped: pages go stale (Warning), then 503 past --max-stale-ms.</p>
   <button id="aggregator">stop the aggregator</button>
   <div style="margin-top:10px">Privileges</div><p>The top user's records change downstream; the page shows them within one TTL.</p>
   <button id="privilege">change the top user's privileges</button>
  </section>
 </div>
</main>
<div id="status">loading…</div>
<div id="instances"></div>
<script>
const params = new URLSearchParams(location.search);
const room = params.get('room') || 'demo';
const control = params.get('control');
document.getElementById('room').textContent = 'room ' + room;
const $ = id => document.getElementById(id);
let etag = null, topUid = null, lastPage = null;

function initials(uid) { const s = uid.replace(/[^A-Za-z0-9]/g, ''); return (s[0] + s.slice(-1)).toUpperCase(); }
function badges(p) {
  const out = [];
  if (p.vip) out.push('VIP ' + p.vip.level);
  if (p.noble) out.push('Noble ' + p.noble.level);
  if (p.medal) out.push(p.medal.title);
  if (p.level) out.push('Lv ' + p.level.level);
  if (!out.length) for (const kind of Object.keys(p).slice(0, 2)) out.push(kind.replace(/_/g, ' ') + ' ' + (p[kind].level ?? ''));
  return out.slice(0, 3);
}
// Seats are kept per uid and moved, so a rank change slides (FLIP).
const seats = new Map();
function render(page) {
  lastPage = page;
  $('meta').textContent = page.total + ' in the room · version ' + page.version +
    (page.degraded_kinds.length ? ' · degraded: ' + page.degraded_kinds.join(', ') : '');
  const bar = $('bar');
  const before = new Map([...seats].map(([uid, el]) => [uid, el.getBoundingClientRect()]));
  const order = [];
  for (const item of page.items) {
    let seat = seats.get(item.uid);
    if (!seat) {
      seat = document.createElement('div'); seat.className = 'seat'; seat.dataset.uid = item.uid;
      seat.innerHTML = '<div class="rank"></div><div class="avatar"></div><div class="uid"></div><div class="score"></div><div class="badges"></div>';
      seat.querySelector('.avatar').textContent = initials(item.uid);
      seat.querySelector('.uid').textContent = item.uid;
      seats.set(item.uid, seat);
    }
    seat.querySelector('.rank').textContent = '#' + item.rank;
    seat.querySelector('.score').textContent = item.score.toLocaleString() + ' coins';
    const box = seat.querySelector('.badges'); box.replaceChildren();
    for (const b of badges(item.privileges)) {
      const span = document.createElement('span'); span.className = 'badge'; span.textContent = b; box.appendChild(span);
    }
    order.push(seat);
  }
  for (const [uid, el] of seats) if (!order.includes(el)) seats.delete(uid);
  bar.replaceChildren(...order);
  for (const seat of order) {
    const was = before.get(seat.dataset.uid); if (!was) continue;
    const now = seat.getBoundingClientRect();
    const dx = was.left - now.left, dy = was.top - now.top;
    if (!dx && !dy) continue;
    seat.style.transition = 'none'; seat.style.transform = `translate(${dx}px,${dy}px)`;
    requestAnimationFrame(() => requestAnimationFrame(() => { seat.style.transition = ''; seat.style.transform = ''; }));
  }
  topUid = page.items.length ? page.items[0].uid : null;
}
function warn(text, error) {
  const w = $('warning'); w.textContent = text || ''; w.style.display = text ? 'block' : 'none';
  w.className = error ? 'error' : '';
}
async function poll() {
  try {
    const response = await fetch('/v1/rooms/' + encodeURIComponent(room) + '/mic-queue?size=10',
                                 {headers: etag ? {'If-None-Match': etag} : {}, cache: 'no-store'});
    const served = response.headers.get('X-Micq-Instance');
    if (served) answeredBy(served);
    if (response.status === 200) { etag = response.headers.get('ETag'); render(await response.json()); }
    const warning = response.headers.get('Warning');
    if (response.status >= 500) warn('503: nothing servable (' + (await response.text()).slice(0, 120) + ')', true);
    else if (warning) warn('Serving a stale page (' + warning + ', Age ' + response.headers.get('Age') + ' s): a dependency is failing.');
    else warn('');
    $('status').textContent = 'last poll: ' + response.status + ' at ' + new Date().toLocaleTimeString() +
      (served ? ' · answered by ' + served : '');
  } catch (e) { $('status').textContent = 'poll failed: ' + e; }
}

// Which serve instance answered each poll (X-Micq-Instance): behind
// haproxy, several take turns; the count per instance is over the last 60 s.
const answers = [];
function answeredBy(instance) {
  const now = Date.now();
  answers.push({t: now, instance});
  while (answers.length && answers[0].t < now - 60000) answers.shift();
  const counts = new Map();
  for (const a of answers) counts.set(a.instance, (counts.get(a.instance) || 0) + 1);
  const box = $('instances'); box.replaceChildren();
  if (counts.size < 2) return;
  const title = document.createElement('span'); title.textContent = 'polls answered per instance, last 60 s:';
  box.appendChild(title);
  for (const [name, count] of [...counts].sort()) {
    const span = document.createElement('span'); span.className = 'instance';
    const b = document.createElement('b'); b.textContent = count;
    span.append(name + ' ', b);
    box.appendChild(span);
  }
}

// The chart: one sample a second of the counters, drawn as rates.
const series = [
  {key: 'requests', name: 'client requests/s', color: '#6cb6ff'},
  {key: 'page_loads', name: 'page builds/s', color: '#ffcc4d'},
  {key: 'aggregator_batches', name: 'aggregator batches/s', color: '#ff7b72'},
  {key: 'downstream_calls', name: 'downstream calls/s', color: '#9fe0a6'},
];
const samples = [];
function sumMetric(text, name, filter) {
  return text.split('\n').filter(l => (l.startsWith(name + ' ') || l.startsWith(name + '{')) && (!filter || l.includes(filter)))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}
async function sample() {
  let s;
  if (control) {
    s = await (await fetch(control + '/stats', {cache: 'no-store'})).json();
  } else {
    const text = await (await fetch('/metrics', {cache: 'no-store'})).text();
    s = {t: Date.now(), requests: sumMetric(text, 'micq_http_requests_total', 'route="mic_queue"'),
         not_modified: sumMetric(text, 'micq_http_requests_total', 'route="mic_queue",status="304"'),
         hits: sumMetric(text, 'micq_cache_hits_total'), page_loads: sumMetric(text, 'micq_page_loads_started_total'),
         coalesced: sumMetric(text, 'micq_callers_coalesced_total'), load_waits: sumMetric(text, 'micq_load_waits_total'),
         stale_serves: sumMetric(text, 'micq_cache_stale_serves_total')};
  }
  samples.push(s); if (samples.length > 61) samples.shift();
  return s;
}
function rates(key) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    const d = (samples[i][key] ?? NaN) - (samples[i - 1][key] ?? NaN);
    out.push(dt > 0 && d >= 0 ? d / dt : NaN);
  }
  return out;
}
function draw() {
  const svg = $('chart'), W = 600, H = 220, top = 4, bottom = 200, left = 34;
  const y = v => bottom - (Math.log10(Math.max(v, 0.1)) + 1) / 5 * (bottom - top);  // 0.1 .. 10^4
  let out = '';
  for (let p = -1; p <= 4; p++) {
    const yy = y(10 ** p);
    out += `<line class="grid" x1="${left}" x2="${W}" y1="${yy}" y2="${yy}"/><text class="axis" x="0" y="${yy + 3}">${p < 0 ? '0.1' : (10 ** p).toLocaleString()}</text>`;
  }
  const legend = [];
  for (const s of series) {
    const r = rates(s.key);
    const x = i => left + (W - left) * (i + 60 - r.length) / 59;
    const points = r.map((v, i) => Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null).filter(Boolean);
    out += `<polyline class="line" id="line-${s.key}" stroke="${s.color}" points="${points.join(' ')}"/>`;
    const last = r.filter(Number.isFinite).pop();
    legend.push(`<span><span class="dot" style="background:${s.color}"></span>${s.name} <b id="rate-${s.key}">${last === undefined ? '–' : last.toFixed(last < 10 ? 1 : 0)}</b></span>`);
  }
  svg.innerHTML = out;
  $('legend').innerHTML = legend.join('');
}
function counters(s) {
  $('hits').textContent = s.hits; $('loads').textContent = s.page_loads; $('coalesced').textContent = s.coalesced;
  $('waits').textContent = s.load_waits; $('stale').textContent = s.stale_serves; $('requests').textContent = s.requests;
  const old = samples[Math.max(0, samples.length - 11)];
  const dq = s.requests - old.requests, dn = s.not_modified - old.not_modified, db = s.page_loads - old.page_loads;
  $('share').textContent = dq > 0 ? Math.round(100 * dn / dq) + '%' : '–';
  $('reduction').textContent = db > 0 ? Math.round(dq / db).toLocaleString() : (dq > 0 ? dq.toLocaleString() + '+' : '–');
  if (control) {
    $('aggregator').textContent = s.aggregator_stopped ? 'start the aggregator' : 'stop the aggregator';
    $('aggregator').classList.toggle('on', s.aggregator_stopped);
    for (const b of $('rates').children) b.classList.toggle('on', Number(b.dataset.rate) === s.events_per_second);
  }
}
async function tick() { try { const s = await sample(); draw(); counters(s); } catch (e) {} }

if (control) {
  $('controls').hidden = false;
  for (const [label, rate] of [['quiet · 0.5/s', 0.5], ['live · 4/s', 4], ['hot · 100/s', 100]]) {
    const b = document.createElement('button'); b.textContent = label; b.dataset.rate = rate;
    b.onclick = () => fetch(control + '/events?per_second=' + rate, {method: 'POST'}).then(tick);
    $('rates').appendChild(b);
  }
  $('aggregator').onclick = () => {
    const stopped = $('aggregator').classList.contains('on');
    fetch(control + (stopped ? '/aggregator/start' : '/aggregator/stop'), {method: 'POST'}).then(tick);
  };
  $('privilege').onclick = () => { if (topUid) fetch(control + '/privilege?uid=' + encodeURIComponent(topUid), {method: 'POST'}); };
}
poll(); tick(); setInterval(poll, 3000); setInterval(tick, 1000);
</script></body></html>
)html";
  return kPage;
}

}  // namespace micq::serve
