// The queue page with N open conversations (default 2,000): the server's render time and size
// for the page's first load (and for the queue as JSON, up to 5,000 rows), the browser's
// scripting time per one-second badge tick, read from Chromium's performance metrics (CDP
// Performance.getMetrics), and scrolling the queue to its end: every row reached once, and
// the most rows in the DOM at any step.
//
//   node end2end/bench/queue-page.mjs [--conversations 10000] [--seconds 20]
//
// Starts the release build (target/release/promptly, target/site) on a fresh SQLite
// database through end2end/start-server.sh on a free loopback port, seeds it through
// POST /api/v1/events, measures, stops the server. Prints one line of figures.
import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, median, waitUp } from './support.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('conversations', 2000);
const SECONDS = arg('seconds', 20);
const here = fileURLToPath(new URL('..', import.meta.url));

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn('bash', ['./start-server.sh', String(port)], { cwd: here, stdio: 'ignore', detached: true });
const stop = () => { try { process.kill(-server.pid, 'SIGTERM'); } catch {} };
process.on('exit', stop);


try {
  await waitUp(base);
  const token = readFileSync(`${here}/.e2e-token`, 'utf8').trim();
  const api = async (method, path, body) => {
    const r = await fetch(base + path, {
      method, body: body && JSON.stringify(body),
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  // A default policy; conversations started over the last hours, so that badges show every
  // state: within target, running out, breached.
  const p = await api('POST', '/api/v1/policies', {
    name: 'Bench', first_response: '2h', next_response: '1h', resolution: '2d', warning: '75%',
  });
  await api('PUT', '/api/v1/settings/default-policy', { policy: p.id });
  const channels = ['whatsapp', 'messenger', 'instagram', 'twitter', 'email', 'webchat', 'sms'];
  const now = Date.now();
  const events = [];
  for (let i = 0; i < N; i++) {
    const at = new Date(now - (i * 7919 % (3 * 3600)) * 1000).toISOString();
    events.push({ id: `b${i}-1`, type: 'conversation.created', conversation: `bench-${i}`, at,
      channel: channels[i % channels.length], visibility: i % 3 ? 'direct' : 'public',
      contact: { name: `Customer ${i}`, email: `c${i}@example.com` }, priority: i % 11 ? 'normal' : 'urgent' });
    events.push({ id: `b${i}-2`, type: 'message.created', conversation: `bench-${i}`, at,
      author: 'customer', text: `Hello, this is message number ${i}. Where is my order?` });
  }
  for (let i = 0; i < events.length; i += 1000) {
    await api('POST', '/api/v1/events', { events: events.slice(i, i + 1000) });
  }

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('E-mail').fill('admin@e2e.test');
  await page.getByLabel('Password').fill('admin-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('tr[data-conversation]', { timeout: 120_000 });

  // Server render: the whole page as HTML, and the same queue as JSON, with the session.
  const html = [], json = [];
  let bytes = 0;
  for (let i = 0; i < 15; i++) {
    let t = performance.now();
    const r = await context.request.get('/');
    bytes = (await r.body()).length;
    html.push(performance.now() - t);
    t = performance.now();
    await (await context.request.get('/api/v1/conversations?limit=5000')).body();
    json.push(performance.now() - t);
  }
  const rows = await page.locator('tr[data-conversation]').count();
  const htmlText = await (await context.request.get('/')).text();
  const ssrRows = htmlText.split('data-external-id=').length - 1;

  // Scripting per tick, hydrated and live.
  await page.waitForSelector('.live.on', { timeout: 30_000 });
  await page.waitForTimeout(3000);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metric();
  await page.waitForTimeout(SECONDS * 1000);
  const after = await metric();
  const script = (after.ScriptDuration - before.ScriptDuration) * 1000 / SECONDS;
  const task = (after.TaskDuration - before.TaskDuration) * 1000 / SECONDS;
  const layout = (after.LayoutDuration - before.LayoutDuration) * 1000 / SECONDS;
  const style = (after.RecalcStyleDuration - before.RecalcStyleDuration) * 1000 / SECONDS;

  // Scroll to the end, one screen at a time, until every conversation was in view once.
  const seen = new Set();
  let mostInDom = 0;
  const t0 = performance.now();
  for (let step = 0; seen.size < N && step < 20 * N; step++) {
    const ids = await page.evaluate(() => {
      const el = document.querySelector('.queue-scroll');
      el.scrollTop += el.clientHeight;
      return [...el.querySelectorAll('tr[data-external-id]')].map((e) => e.dataset.externalId);
    });
    ids.forEach((id) => seen.add(id));
    mostInDom = Math.max(mostInDom, ids.length);
    // The next frame (and a fetch's answer) before the next screen.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }
  const scrollS = (performance.now() - t0) / 1000;
  console.log(
    `queue_rows=${rows} ssr_rows=${ssrRows} reached=${seen.size}/${N} most_rows_in_dom=${mostInDom} ` +
    `scroll_to_end_s=${scrollS.toFixed(1)} page_html_ms_p50=${median(html).toFixed(1)} page_bytes=${bytes} ` +
    `queue_json_ms_p50=${median(json).toFixed(1)} script_ms_per_tick=${script.toFixed(2)} ` +
    `task_ms_per_tick=${task.toFixed(2)} layout_ms_per_tick=${layout.toFixed(2)} ` +
    `style_ms_per_tick=${style.toFixed(2)} seconds=${SECONDS}`,
  );
  await browser.close();
} finally {
  stop();
}
