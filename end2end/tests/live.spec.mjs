// The service-level wallboard as a manager watches it: a contract's row on target, then, as
// two customers wait past the contract's 10 seconds, all hands — on the hydrated page without
// a reload.
import { test, expect } from '@playwright/test';
import { api, login, ready } from './support.mjs';

test("a manager's wallboard changes band live when customers wait past Y", async ({ page, request }, info) => {
  const tag = `live-${info.project.name}-${Date.now()}`;
  const team = `wall-${tag}`;
  const manager = { email: `mgr-${tag}@e2e.test`, password: 'manager-password-1' };
  await api(request, 'POST', '/api/v1/users', { ...manager, name: 'Wanda Wall', role: 'manager' });
  const contract = await api(request, 'POST', '/api/v1/contracts', {
    name: `Wall ${tag}`, counterparty_kind: 'department', counterparty: 'Support',
    review_date: '2027-12-01', scope: { teams: [team] },
    metrics: [{ kind: 'service_level', within_s: 10, formula: 'answered_only', target: 80, period: 'month' }],
    remedies: { fee_per_period: 0, credit_per_point: 0, credit_cap: 0, currency: 'EUR' },
  });
  const at = (ms) => new Date(ms).toISOString();
  const t0 = Date.now();
  // One answered within two seconds.
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${tag}-1`, type: 'conversation.created', conversation: `${tag}-a`, channel: 'webchat', team, at: at(t0 - 5000) },
    { id: `${tag}-2`, type: 'message.created', conversation: `${tag}-a`, author: 'customer', text: 'Hi', at: at(t0 - 5000) },
    { id: `${tag}-3`, type: 'message.created', conversation: `${tag}-a`, author: 'agent', text: 'Hello', agent_email: manager.email, at: at(t0 - 3000) },
  ] });

  await login(page, manager.email, manager.password);
  await page.goto('/live');
  await expect(page.getByRole('heading', { name: 'Live service level' })).toBeVisible();
  await ready(page, info);
  const row = page.locator(`tr[data-kind="contract"][data-key="${contract.id}"]`);
  await expect(row).toContainText(`Wall ${tag}`);
  await expect(row).toHaveAttribute('data-band', 'on_target');
  await expect(row).toContainText('100 %');

  // Two customers start waiting; nobody answers.
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${tag}-4`, type: 'conversation.created', conversation: `${tag}-b`, channel: 'webchat', team },
    { id: `${tag}-5`, type: 'conversation.created', conversation: `${tag}-c`, channel: 'webchat', team },
  ] });
  if (info.project.name === 'hydrated') {
    // Past Y the level falls to one of three: all hands, without a reload.
    await expect(row).toHaveAttribute('data-band', 'all_hands', { timeout: 25_000 });
  } else {
    // Without JavaScript the page is read again until the level has fallen.
    await expect(async () => {
      await page.reload();
      await expect(row).toHaveAttribute('data-band', 'all_hands', { timeout: 1_000 });
    }).toPass({ timeout: 25_000 });
  }
  await expect(row).toContainText('33 %');
  await expect(row).toContainText('All hands on deck');

  // The wall screen: large type, same figures.
  await page.getByTestId('wall-link').click();
  await expect(page.getByTestId('live-board')).toHaveClass(/wall/);
  await expect(page.locator(`tr[data-kind="contract"][data-key="${contract.id}"]`)).toHaveAttribute('data-band', 'all_hands');
});
