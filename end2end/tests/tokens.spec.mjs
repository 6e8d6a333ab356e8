// Integration tokens, as an admin uses them: create one on the users page, see it once, use
// it on the API, revoke it. And the API page the header links to (Swagger UI, tried under
// the session).
import { test, expect } from '@playwright/test';
import { ADMIN, fillLabelled, loginToQueue } from './support.mjs';

test('admins reach the API page from the header and try a call there', async ({ page, request }, info) => {
  await loginToQueue(page, ADMIN.email, ADMIN.password);
  const link = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API', exact: true });
  await expect(link).toBeVisible();
  await link.click();
  await expect(page).toHaveURL(/\/api\/docs\/$/);
  await expect(page).toHaveTitle('Swagger UI');
  if (info.project.name === 'hydrated') {
    // Swagger UI is a JavaScript page: with JavaScript on it shows every operation, and
    // "Try it out" runs under the browser's session.
    await expect(page.locator('.swagger-ui h2.title')).toContainText('Promptly API');
    await expect(page.locator('#operations-Events-ingestEvents')).toBeVisible();
    await expect(page.locator('#operations-Stream-stream')).toBeVisible();
    const me = page.locator('#operations-Users-getMe');
    await me.locator('.opblock-summary').first().click();
    await me.getByRole('button', { name: 'Execute' }).click();
    const live = me.locator('.live-responses-table');
    await expect(live.locator('tbody .response-col_status').first()).toHaveText('200');
    await expect(live).toContainText(ADMIN.email);
  }

  // The document itself needs no session.
  const doc = await request.get('/api/v1/openapi.json');
  expect(doc.status()).toBe(200);
  expect((await doc.json()).openapi).toMatch(/^3\.1\./);
});

test('an admin creates a token, sees it once, uses it and revokes it', async ({ page, request }, info) => {
  const name = `e2e-${info.project.name}-${Date.now()}`;
  await loginToQueue(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  await expect(page.getByRole('heading', { name: 'Integration tokens' })).toBeVisible();

  const form = page.locator('form.create-token');
  await fillLabelled(form, { 'Token name': name });
  // Posting events is ticked already (the least a channel needs); this one also reads.
  await expect(form.getByLabel('events:write')).toBeChecked();
  await expect(form.locator('input[name=scopes][value=admin]')).not.toBeChecked();
  await form.getByLabel('conversations:read').check();
  await form.getByRole('button', { name: 'Create token' }).click();
  await expect(page).toHaveURL(/\/admin\/users\?token=created$/);
  await expect(page.getByText('Token created.')).toBeVisible();

  const shown = page.locator('.new-token .token-value');
  await expect(shown).toBeVisible();
  await expect(page.getByText('Copy this token now: it will not be shown again.')).toBeVisible();
  const token = (await shown.textContent()).trim();
  expect(token).toMatch(/^pt_[A-Za-z0-9_-]{43}$/);
  expect(page.url()).not.toContain(token);

  const row = page.locator(`tr[data-token="${name}"]`);
  await expect(row.locator('.token-scopes')).toHaveText('events:write conversations:read');
  await expect(row.locator('.token-status')).toHaveText('Active');

  // Shown once: a reload does not show it again.
  await page.reload();
  await expect(row).toBeVisible();
  await expect(page.locator('.new-token')).toHaveCount(0);
  await expect(page.getByText(token)).toHaveCount(0);

  // The token works on the API, with the scopes it was given and no more.
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  const me = await request.get('/api/v1/me', auth);
  expect(me.status()).toBe(200);
  const who = await me.json();
  expect(who.role).toBe('agent');
  expect(who.name).toBe(name);
  expect((await request.get('/api/v1/conversations', auth)).status()).toBe(200);
  expect((await request.get('/api/v1/users', auth)).status()).toBe(403);

  // Revoked, it is refused.
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(page).toHaveURL(/\/admin\/users\?token=revoked$/);
  await expect(page.getByText('Token revoked; requests with it are refused from now on.')).toBeVisible();
  await expect(row.locator('.token-status')).toContainText('Revoked');
  await expect(row.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
  const after = await request.get('/api/v1/me', auth);
  expect(after.status()).toBe(401);
  expect((await after.json()).error).toBe('unknown or revoked token');
});

test('a token needs a name', async ({ page }) => {
  await loginToQueue(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const before = await page.locator('tr[data-token]').count();
  await page.locator('form.create-token').getByRole('button', { name: 'Create token' }).click();
  await expect(page.locator('[data-field="token-name"]')).toHaveText('Name is required (at most 100 characters).');
  await expect(page.locator('.new-token')).toHaveCount(0);
  await expect(page.locator('tr[data-token]')).toHaveCount(before);
});
