#include "demo_page.h"

namespace micq::serve {

std::string_view demo_page_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>micq — mic queue</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:15px system-ui,sans-serif;margin:0;background:#14111f;color:#eee}
 header{padding:14px 20px;background:#221c36;display:flex;gap:16px;align-items:baseline}
 header h1{font-size:18px;margin:0} header span{color:#aaa}
 #bar{display:flex;gap:12px;padding:18px 20px;overflow-x:auto}
 .seat{min-width:118px;background:#2b2442;border-radius:12px;padding:10px;text-align:center}
 .rank{font-weight:700;color:#ffcc4d} .avatar{width:46px;height:46px;border-radius:50%;margin:6px auto;
  display:flex;align-items:center;justify-content:center;font-weight:700;background:#6c4bd8}
 .uid{font-size:13px;word-break:break-all} .score{color:#9fe0a6;font-size:13px}
 .badges{margin-top:6px;display:flex;flex-wrap:wrap;gap:3px;justify-content:center}
 .badge{font-size:11px;background:#3d335e;border-radius:8px;padding:1px 6px}
 #panel{margin:0 20px;padding:12px;background:#1d1830;border-radius:10px;display:flex;gap:24px;flex-wrap:wrap}
 #panel b{display:block;font-size:20px;color:#fff} #panel div{color:#aaa;font-size:12px}
 #status{padding:8px 20px;color:#888;font-size:12px}
</style></head><body>
<header><h1>Mic queue</h1><span id="room"></span><span id="meta"></span></header>
<div id="bar"></div>
<div id="panel">
 <div><b id="hits">–</b>cache hits</div><div><b id="loads">–</b>page loads</div>
 <div><b id="coalesced">–</b>callers coalesced</div><div><b id="stale">–</b>stale serves</div>
 <div><b id="requests">–</b>list requests</div>
</div>
<div id="status">loading…</div>
<script>
const room = new URLSearchParams(location.search).get('room') || 'demo';
document.getElementById('room').textContent = 'room ' + room;
let etag = null;
function initials(uid) { const s = uid.replace(/[^A-Za-z0-9]/g, ''); return (s[0] + s.slice(-1)).toUpperCase(); }
function badges(p) {
  const out = [];
  if (p.vip) out.push('VIP ' + p.vip.level);
  if (p.noble) out.push('Noble ' + p.noble.level);
  if (p.medal) out.push(p.medal.title);
  if (p.level) out.push('Lv ' + p.level.level);
  return out.slice(0, 3);
}
function render(page) {
  document.getElementById('meta').textContent =
    page.total + ' viewers · version ' + page.version + (page.degraded_kinds.length ? ' · degraded: ' + page.degraded_kinds.join(', ') : '');
  const bar = document.getElementById('bar');
  bar.replaceChildren(...page.items.map(item => {
    const seat = document.createElement('div'); seat.className = 'seat'; seat.dataset.uid = item.uid;
    seat.innerHTML = '<div class="rank"></div><div class="avatar"></div><div class="uid"></div><div class="score"></div><div class="badges"></div>';
    seat.querySelector('.rank').textContent = '#' + item.rank;
    seat.querySelector('.avatar').textContent = initials(item.uid);
    seat.querySelector('.uid').textContent = item.uid;
    seat.querySelector('.score').textContent = item.score.toLocaleString() + ' coins';
    for (const b of badges(item.privileges)) {
      const span = document.createElement('span'); span.className = 'badge'; span.textContent = b;
      seat.querySelector('.badges').appendChild(span);
    }
    return seat;
  }));
}
async function poll() {
  try {
    const response = await fetch('/v1/rooms/' + encodeURIComponent(room) + '/mic-queue?size=10',
                                 {headers: etag ? {'If-None-Match': etag} : {}, cache: 'no-store'});
    if (response.status === 200) { etag = response.headers.get('ETag'); render(await response.json()); }
    document.getElementById('status').textContent = 'last poll: ' + response.status + ' at ' + new Date().toLocaleTimeString();
  } catch (e) { document.getElementById('status').textContent = 'poll failed: ' + e; }
}
async function metrics() {
  try {
    const text = await (await fetch('/metrics', {cache: 'no-store'})).text();
    const value = (name, filter) => text.split('\n').filter(l => l.startsWith(name) && (!filter || l.includes(filter)))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    document.getElementById('hits').textContent = value('micq_cache_hits_total ');
    document.getElementById('loads').textContent = value('micq_page_loads_started_total ');
    document.getElementById('coalesced').textContent = value('micq_callers_coalesced_total ');
    document.getElementById('stale').textContent = value('micq_cache_stale_serves_total ');
    document.getElementById('requests').textContent = value('micq_http_requests_total{', 'route="mic_queue"');
  } catch (e) {}
}
poll(); metrics(); setInterval(poll, 3000); setInterval(metrics, 3000);
</script></body></html>
)html";
  return kPage;
}

}  // namespace micq::serve
