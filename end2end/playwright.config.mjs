// Promptly's browser tests. Every test runs twice: with JavaScript off (the pages as the
// server renders them) and hydrated (the WebAssembly app running in Chromium).
import { defineConfig } from '@playwright/test';

const port = process.env.PROMPTLY_E2E_PORT || '3107';
export const baseURL = `http://127.0.0.1:${port}`;

const chromium = {
  browserName: 'chromium',
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  },
};

export default defineConfig({
  testDir: './tests',
  // Only specs: tests/support.mjs is the helpers they import.
  testMatch: '**/*.spec.mjs',
  timeout: 90_000,
  workers: 1,
  fullyParallel: false,
  reporter: [['list']],
  use: { baseURL, ...chromium, trace: 'off' },
  projects: [
    { name: 'js-off', use: { javaScriptEnabled: false } },
    { name: 'hydrated', use: { javaScriptEnabled: true } },
  ],
  webServer: {
    command: `bash ./start-server.sh ${port}`,
    url: `${baseURL}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
