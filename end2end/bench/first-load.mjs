// The first load as a new user meets it: Chromium with a throttled network (10 Mbit/s down,
// 40 ms round trip, cold cache) opens the login page of the demo, an agent logs in, and the
// queue page becomes hydrated and live. Prints the bytes on the wire (all, and WebAssembly
// plus JavaScript), the time from the login click until the queue is live, and what a second
// visit (warm cache) downloads again.
//
//   node end2end/bench/first-load.mjs [--runs 3]
//
// Starts the release build (target/release/promptly, target/site, as scripts/build-release.sh
// makes it) with --demo on a fresh SQLite database on a free loopback port; stops it at the
// end. Prints one line of figures per run, then the medians; each run also as the baseline
// (nothing compressed, nothing cached), in the same browser against the same server.
import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, median, waitUp } from './support.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 3);
const root = fileURLToPath(new URL('../..', import.meta.url));

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), 'promptly-first-load-'));
const server = spawn(`${root}/target/release/promptly`, ['serve', '--demo'], {
  cwd: root,
  stdio: 'ignore',
  detached: true,
  env: {
    ...process.env,
    PROMPTLY_DATABASE_URL: `sqlite://${dir}/bench.db`,
    PROMPTLY_ADDR: `127.0.0.1:${port}`,
    PROMPTLY_SITE_ROOT: `${root}/target/site`,
    PROMPTLY_LOG: 'warn',
  },
});
const stop = () => {
  try { process.kill(-server.pid, 'SIGTERM'); } catch {}
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', stop);

const kb = (b) => `${(b / 1024).toFixed(0)} KB`;

/** Bytes received per response (the encoded size on the wire), by URL, through CDP. */
function meter(cdp) {
  const byId = new Map();
  const done = [];
  cdp.on('Network.responseReceived', (e) => byId.set(e.requestId, { url: e.response.url, cached: e.response.fromDiskCache || e.response.fromMemoryCache }));
  cdp.on('Network.loadingFinished', (e) => {
    const r = byId.get(e.requestId);
    if (r) done.push({ ...r, bytes: e.encodedDataLength });
  });
  return done;
}

const totals = (list) => {
  const code = list.filter((r) => /\.(wasm|js)(\?|$)/.test(new URL(r.url).pathname));
  return { all: list.reduce((a, r) => a + r.bytes, 0), code: code.reduce((a, r) => a + r.bytes, 0) };
};

try {
  await waitUp(base);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Each run twice: as browsers fetch (compressed, cached), and the baseline as the server
  // answered before (nothing compressed, nothing kept: `Accept-Encoding: identity`, the
  // cache disabled).
  const rows = { fetched: [], baseline: [] };
  for (let run = 0; run < RUNS * 2; run++) {
    const mode = run % 2 === 0 ? 'fetched' : 'baseline';
    const context = await browser.newContext();
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.clearBrowserCache');
    if (mode === 'baseline') {
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Accept-Encoding': 'identity' } });
    }
    // 10 Mbit/s down, 5 Mbit/s up, 40 ms round trip.
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 40, downloadThroughput: 10_000_000 / 8, uploadThroughput: 5_000_000 / 8,
    });
    const first = meter(cdp);
    await page.goto(`${base}/login`);
    await page.getByLabel('E-mail').fill('agent@demo.promptly');
    await page.getByLabel('Password').fill('demo-password');
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 60_000 });
    const live = Date.now() - t0;
    const cold = totals(first);
    // A second visit in the same browser: what comes again over the wire.
    first.length = 0;
    await page.goto(`${base}/`);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 60_000 });
    const again = first.filter((r) => !r.cached && /\/pkg\//.test(r.url));
    const warm = totals(again);
    rows[mode].push({ live, all: cold.all, code: cold.code, again: warm.all });
    console.log(`${mode} ${Math.floor(run / 2) + 1}: on the wire ${kb(cold.all)} (wasm+js ${kb(cold.code)}), live ${live} ms after the login click, second visit downloads ${kb(warm.all)} of assets`);
    await context.close();
  }
  await browser.close();
  for (const [mode, list] of Object.entries(rows)) {
    console.log(`median ${mode}: on the wire ${kb(median(list.map((r) => r.all)))} (wasm+js ${kb(median(list.map((r) => r.code)))}), live ${median(list.map((r) => r.live))} ms, second visit ${kb(median(list.map((r) => r.again)))} of assets`);
  }
} finally {
  stop();
}
