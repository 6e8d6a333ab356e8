// Accounts and roles, as people use them: log in, manage users, be refused what is not yours.
import { test, expect } from '@playwright/test';
import { ADMIN, api, fillLabelled, login, loginToQueue } from './support.mjs';

async function logout(page) {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByText('You are logged out.')).toBeVisible();
}

test('the live indicator shows whether the page is hydrated and connected', async ({ page }, info) => {
  await loginToQueue(page, ADMIN.email, ADMIN.password);
  const indicator = page.getByRole('status').filter({ hasText: /Live|Offline/ });
  if (info.project.name === 'hydrated') {
    await expect(indicator).toHaveText('Live', { timeout: 10_000 });
  } else {
    await expect(indicator).toHaveText('Offline');
  }
});

test('an admin creates an agent, who sees the queue and is refused the users page', async ({ page }, info) => {
  const agent = `agent-${info.project.name}-${Date.now()}@e2e.test`;
  await login(page, ADMIN.email, ADMIN.password);
  await expect(page.getByRole('link', { name: 'Users' })).toBeVisible();
  await page.getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();

  const form = page.locator('form.create-user');
  await fillLabelled(form, {
    'E-mail': agent, Name: 'Ada Agent', Role: { option: 'agent' }, Password: 'agent-password-1',
  });
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByText('User created.')).toBeVisible();
  const row = page.locator(`tr[data-email="${agent}"]`);
  await expect(row).toContainText('Ada Agent');
  await expect(row.locator('select[name="role"]')).toHaveValue('agent');
  await logout(page);

  await loginToQueue(page, agent, 'agent-password-1');
  await expect(page.getByRole('link', { name: 'Queue' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Policies' })).toHaveCount(0);

  const resp = await page.goto('/admin/users');
  expect(resp.status()).toBe(403);
  await expect(page.getByRole('heading', { name: '403 · Not allowed' })).toBeVisible();
  await expect(page.getByText('Users is not open to your role (Agent).')).toBeVisible();
});

test('a wrong password shows a clear message and keeps the e-mail', async ({ page }) => {
  await login(page, ADMIN.email, 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('Wrong e-mail or password.');
  await expect(page.getByLabel('E-mail')).toHaveValue(ADMIN.email);
  await expect(page.getByRole('button', { name: 'Log in' })).toBeVisible();
});

test('a visitor without a session is sent to log in and back to the page asked for', async ({ page }) => {
  await page.goto('/admin/users');
  await expect(page).toHaveURL(/\/login\?next=%2Fadmin%2Fusers/);
  await fillLabelled(page, { 'E-mail': ADMIN.email, Password: ADMIN.password });
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
});

test('empty and too-short fields get field errors and store nothing', async ({ page }, info) => {
  await page.goto('/login');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.locator('[data-field="email"]')).toHaveText('Required.');
  await expect(page.locator('[data-field="password"]')).toHaveText('Required.');

  await login(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const before = await page.locator('tbody tr').count();
  const form = page.locator('form.create-user');
  await fillLabelled(form, { Name: `Nobody ${info.project.name}`, Password: 'short' });
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.locator('[data-field="email"]')).toHaveText('E-mail is required.');
  await expect(page.locator('[data-field="password"]')).toHaveText('Password must be at least 8 characters.');
  await expect(page.locator('tbody tr')).toHaveCount(before);
  await expect(page.getByText(`Nobody ${info.project.name}`, { exact: true })).toHaveCount(0);
});

test('an admin resets a password; the agent must choose a new one before anything else', async ({ page, request }, info) => {
  const agent = `reset-${info.project.name}-${Date.now()}@e2e.test`;
  await api(request, 'POST', '/api/v1/users', { email: agent, role: 'agent', password: 'first-password-1' });
  await login(page, ADMIN.email, ADMIN.password);
  await page.goto('/admin/users');
  const row = page.locator(`tr[data-email="${agent}"]`);
  await row.getByLabel(`Temporary password for ${agent}`).fill('temporary-pass-1');
  await row.getByRole('button', { name: 'Reset password' }).click();
  await expect(page.getByText('Password reset: their sessions ended')).toBeVisible();
  await expect(row.locator('.user-status')).toHaveText('Active; must change password');
  await logout(page);

  // With the temporary password, the account page comes first, whatever was asked for.
  await login(page, agent, 'temporary-pass-1');
  await expect(page).toHaveURL(/\/account\?next=%2F$/);
  await expect(page.locator('[data-notice="must-change"]')).toBeVisible();
  const form = page.locator('form.change-password');
  await fillLabelled(form, {
    'Current password': 'temporary-pass-1', 'New password (': 'my-own-password-1', 'New password again': 'my-other-password',
  });
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(page.locator('[data-field="confirm_password"]')).toHaveText('The two new passwords differ.');
  await fillLabelled(form, {
    'Current password': 'temporary-pass-1', 'New password (': 'my-own-password-1', 'New password again': 'my-own-password-1',
  });
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('heading', { name: 'Queue' })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  await logout(page);
  await loginToQueue(page, agent, 'my-own-password-1');
});

test('the audit log shows who changed a user, filtered by record', async ({ page, request }, info) => {
  const who = `audited-${info.project.name}-${Date.now()}@e2e.test`;
  const user = await api(request, 'POST', '/api/v1/users', { email: who, role: 'agent', password: 'audited-password-1' });
  await api(request, 'PATCH', `/api/v1/users/${user.id}`, { role: 'manager' });
  await loginToQueue(page, ADMIN.email, ADMIN.password);
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
  const form = page.locator('form.audit-filters');
  await form.getByLabel('Record').selectOption('user');
  await form.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/entity=user/);
  const row = page.locator('tr[data-entity="user"][data-action="role"]').filter({ hasText: who });
  await expect(row.locator('.actor')).toHaveText('token:e2e');
  await expect(row).toBeVisible();
  await expect(page.locator('tr[data-entity="calendar"]')).toHaveCount(0);
});
