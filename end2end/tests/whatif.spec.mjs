// Policy what-if as an admin uses it: replay the last hours under a draft with a longer first
// response, see who would have met it, apply the advised target to the draft, and save it.
import { test, expect } from '@playwright/test';
import { api, loginToQueue, ready } from './support.mjs';

test('an admin runs a what-if, applies the advice and saves the draft', async ({ page, request }, info) => {
  const name = `What-if ${info.project.name} ${Date.now()}`;
  const policy = await api(request, 'POST', '/api/v1/policies', { name, first_response: '10m' });
  await api(request, 'PUT', '/api/v1/settings/default-policy', { policy: policy.id });
  // Six conversations three hours ago, answered after 5, 8, 15, 20, 40 and 90 minutes.
  const start = Date.now() - 3 * 3600 * 1000;
  const at = (ms) => new Date(ms).toISOString();
  const events = [];
  [5, 8, 15, 20, 40, 90].forEach((minutes, i) => {
    const c = `wi-${info.project.name}-${Date.now()}-${i}`;
    const created = start + i * 60_000;
    events.push(
      { id: `${c}-1`, type: 'conversation.created', conversation: c, channel: i % 2 ? 'email' : 'whatsapp', at: at(created) },
      { id: `${c}-2`, type: 'message.created', conversation: c, author: 'customer', text: 'Hello', at: at(created) },
      { id: `${c}-3`, type: 'message.created', conversation: c, author: 'agent', text: 'Hi', agent_email: 'ada@example.com', at: at(created + minutes * 60_000) },
    );
  });
  await api(request, 'POST', '/api/v1/events', { events });

  await loginToQueue(page);
  await page.goto('/policies');
  await page.locator(`tr[data-name="${name}"]`).getByRole('link', { name: 'What if…' }).click();
  await expect(page.getByRole('heading', { name: `What if: ${name}` })).toBeVisible();
  await ready(page, info);
  const form = page.getByTestId('what-if-form');
  await expect(form.getByLabel('First response target')).toHaveValue('10m');

  // A draft of 30 minutes: two more of the six are met.
  await form.getByLabel('First response target').fill('30');
  await form.getByLabel('First response unit').selectOption('m');
  await form.getByRole('button', { name: 'Run what-if' }).click();
  const answer = page.getByTestId('what-if-answer');
  await expect(answer).toContainText('6 conversations replayed');
  const frt = page.getByTestId('what-if-summary').locator('tbody tr').first();
  await expect(frt).toContainText('33.3 %');
  await expect(frt).toContainText('66.7 %');
  await expect(page.getByText('2 conversation(s) change outcome')).toBeVisible();
  await expect(page.getByTestId('what-if-changed').getByRole('link')).toHaveCount(2);

  // 90 % of six needs the sixth: 90 minutes. Used in the draft, all six are met.
  const advice = page.getByTestId('what-if-advice').locator('tr[data-metric="first_response"][data-group="all"]');
  await expect(advice.locator('.advised')).toHaveText('1h30m');
  await advice.getByRole('link', { name: 'Use in draft' }).click();
  await expect(form.getByLabel('First response target')).toHaveValue('1h30m');
  await expect(page.getByTestId('what-if-summary').locator('tbody tr').first()).toContainText('100.0 %');
  await expect(page.getByText('4 conversation(s) change outcome')).toBeVisible();

  // Applying it is its own step: a new version of the policy.
  await page.getByRole('button', { name: 'Save the draft as a new version' }).click();
  await expect(page.getByText('Policy saved as version 2.')).toBeVisible();
  await expect(page.locator(`tr[data-name="${name}"]`)).toContainText('First response 1h30m');
});
