// What the browser tests share: the seeded admin, API calls with the integration token the
// server start wrote, logging in, and waiting for the hydrated app. Not a spec: Playwright
// runs only `*.spec.mjs`.
import { expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The admin `start-server.sh` seeds. */
export const ADMIN = { email: 'admin@e2e.test', password: 'admin-password-1' };

const TOKEN = () => readFileSync(fileURLToPath(new URL('../.e2e-token', import.meta.url)), 'utf8').trim();

/** Calls the API as the integration token; any status from 300 up fails the test. */
export async function api(request, method, path, data) {
  const resp = await request.fetch(path, {
    method, data, headers: { Authorization: `Bearer ${TOKEN()}` },
  });
  expect(resp.status(), `${method} ${path}: ${await resp.text()}`).toBeLessThan(300);
  return resp.status() === 204 ? null : resp.json();
}

/** Fills in fields by their labels, in order: a text is typed in, `{ option }` is chosen in a
 * select (an option's value, or `{ label }`). Labels listed in `exact` must match whole; the
 * others match a part of the label text (a select's label also holds its options' text). */
export async function fillLabelled(scope, fields, exact = []) {
  for (const [label, value] of Object.entries(fields)) {
    const field = scope.getByLabel(label, { exact: exact.includes(label) });
    if (typeof value === 'string') {
      await field.fill(value);
    } else {
      await field.selectOption(value.option);
    }
  }
}

/** Fills in and sends the login form (what follows is the caller's to check). */
export async function login(page, email, password) {
  await page.goto('/login');
  await fillLabelled(page, { 'E-mail': email, Password: password });
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** Logs in (as the admin unless told otherwise) and waits for the queue it lands on. */
export async function loginToQueue(page, email = ADMIN.email, password = ADMIN.password) {
  await login(page, email, password);
  await expect(page.getByRole('heading', { name: 'Queue' })).toBeVisible();
}

/** In the hydrated project, waits until the WebAssembly app runs (the live indicator says
 * so), so that typing reaches the page's signals and pickers react. */
export async function ready(page, info) {
  if (info.project.name === 'hydrated') {
    await expect(page.getByRole('status').filter({ hasText: /Live|Offline/ })).toHaveText('Live', { timeout: 10_000 });
  }
}
