// What the browser benchmarks share: a free loopback port, waiting for a server they
// started, and the median of their samples. Not a benchmark itself.
import { createServer } from 'node:net';

/** A free port on 127.0.0.1. */
export const freePort = () => new Promise((ok) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); });
});

/** Waits until the server at `base` answers `/healthz` (at most a minute). */
export async function waitUp(base) {
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server did not start');
}

/** The middle sample (the upper one of an even count). */
export const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
