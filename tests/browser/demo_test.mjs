// End-to-end: `micq up` serves the demo page; in a real (headless) Chromium
// the room's list renders, and after an event is posted the page shows the
// change; the chart moves and the counters show coalescing (up's simulated
// audience); stopping the aggregator from the page shows the stale warning,
// starting it again clears it. Usage: node demo_test.mjs <path to
// build/micq> [screenshot.png]
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const micq = process.argv[2];
if (!micq) { console.error('usage: node demo_test.mjs <micq binary>'); process.exit(2); }

function fail(message) { console.error('FAIL: ' + message); process.exitCode = 1; }

// Starts `micq up` and resolves with its URL and events token once it is up.
function startUp() {
  const child = spawn(micq, ['up', '--listen', '127.0.0.1:0', '--room', 'browser', '--events-per-second', '2',
                             '--viewers', '300'],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('micq up did not come up:\n' + output)), 60000);
    const onData = chunk => {
      output += chunk;
      const url = output.match(/Open ((http:\/\/127\.0\.0\.1:\d+)\/demo\?room=browser\S*)/);
      const token = output.match(/Bearer ([0-9a-f]+)/);
      if (url && token) { clearTimeout(timer); resolve({ demo: url[1], base: url[2], token: token[1] }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', code => reject(new Error('micq up exited early (' + code + '):\n' + output)));
  });
  return { child, ready, output: () => output };
}

const up = startUp();
let browser;
try {
  const { demo, base, token } = await up.ready;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto(demo);
  if (!demo.includes('&control=')) fail('up printed no control URL: ' + demo);

  // The list renders: seats with rank, uid and score.
  await page.waitForSelector('.seat', { timeout: 20000 });
  const seats = await page.locator('.seat').count();
  if (seats < 1) fail('no seats rendered');
  const firstRank = await page.locator('.seat .rank').first().textContent();
  if (firstRank !== '#1') fail('first seat shows ' + firstRank);

  // An event changes the room; the page's next poll shows it.
  const response = await fetch(base + '/v1/rooms/browser/events', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'gift', uid: 'browser-whale', value: 1000000000 }),
  });
  if (response.status !== 200) fail('event refused: ' + response.status);
  await page.waitForSelector('.seat[data-uid="browser-whale"]', { timeout: 15000 });
  const top = await page.locator('.seat').first().getAttribute('data-uid');
  if (top !== 'browser-whale') fail('the big gift is not at #1 but ' + top);

  // The counters show coalescing: the audience's polls are cache hits.
  await page.waitForFunction(() => Number(document.getElementById('hits').textContent) > 50, null,
                             { timeout: 15000 });
  // The chart moves: the requests line gains points, second by second.
  const points = () => page.evaluate(() =>
    (document.getElementById('line-requests')?.getAttribute('points') || '').split(' ').filter(Boolean).length);
  await page.waitForFunction(() =>
    (document.getElementById('line-requests')?.getAttribute('points') || '').split(' ').filter(Boolean).length >= 2,
    null, { timeout: 15000 });
  const before = await points();
  await page.waitForFunction(n =>
    (document.getElementById('line-requests')?.getAttribute('points') || '').split(' ').filter(Boolean).length > n,
    before, { timeout: 15000 });
  const rate = Number(await page.locator('#rate-requests').textContent());
  if (!(rate > 10)) fail('client requests/s on the chart: ' + rate);

  // Stopping the aggregator from the page: the list goes stale, and says so.
  await page.click('#aggregator');
  await page.waitForFunction(() => /stale/.test(document.getElementById('warning').textContent), null,
                             { timeout: 20000 });
  if (process.argv[3]) await page.screenshot({ path: process.argv[3], fullPage: true });
  await page.click('#aggregator');  // start it again
  await page.waitForFunction(() => document.getElementById('warning').style.display === 'none', null,
                             { timeout: 20000 });
  if (!process.exitCode)
    console.log('PASS: list rendered (' + seats + ' seats), event shown at #1, coalescing and chart live, ' +
                'stale warning with the aggregator stopped, gone once it started');
} catch (error) {
  fail(error.message);
} finally {
  if (browser) await browser.close();
  up.child.kill('SIGINT');
  await new Promise(resolve => up.child.on('exit', resolve));
}
