// Contract compliance as a manager reads it: conversations with known times are ingested, a
// contract covers them, and its page shows the warning band with the right figures, money,
// trend chart, breakdown and drill-down; the manager edits it in the editor; the staffing
// what-if answers; an agent is refused.
import { test, expect } from '@playwright/test';
import { api, loginToQueue as login } from './support.mjs';

const at = (hms) => `2026-10-14T${hms}Z`;

/** Four conversations on 14 October 2026 from `domain`: answered after 10 s and 50 s, one
 * resolved unanswered after 100 s (abandoned), one left after 5 s (a short abandon). */
function october(tag, domain) {
  const created = (c, team) => ({ id: `${c}-c`, conversation: c, at: at('10:00:00'), type: 'conversation.created',
    channel: 'webchat', team, contact: { email: `${c}@${domain}` } });
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => `${tag}-${x}`);
  return { events: [
    created(a, 'billing'), { id: `${a}-r`, conversation: a, at: at('10:00:10'), type: 'message.created', author: 'agent', text: 'Hi', agent_email: 'ann@e2e.test' },
    created(b, 'tech'), { id: `${b}-r`, conversation: b, at: at('10:00:50'), type: 'message.created', author: 'agent', text: 'Hi', agent_email: 'bob@e2e.test' },
    created(c, 'billing'), { id: `${c}-s`, conversation: c, at: at('10:01:40'), type: 'conversation.updated', status: 'resolved' },
    created(d, 'tech'), { id: `${d}-l`, conversation: d, at: at('10:00:05'), type: 'conversation.left' },
  ] };
}

test('a manager sees a contract in the warning band with its figures; an agent is refused', async ({ page, request }, info) => {
  const tag = `comp-${info.project.name}-${Date.now()}`;
  const domain = `${tag}.example`;
  await api(request, 'POST', '/api/v1/events', october(tag, domain));
  const manager = { email: `mgr-${tag}@e2e.test`, password: 'manager-password-1' };
  const agent = { email: `agt-${tag}@e2e.test`, password: 'agent-password-1' };
  await api(request, 'POST', '/api/v1/users', { ...manager, name: 'Mia Manager', role: 'manager' });
  await api(request, 'POST', '/api/v1/users', { ...agent, name: 'Al Agent', role: 'agent' });
  const contract = await api(request, 'POST', '/api/v1/contracts', {
    name: `Acme ${tag}`, counterparty_kind: 'client', counterparty: 'Acme',
    service_description: 'Chat support on weekdays.', review_date: '2026-12-01',
    scope: { email_domains: [domain] },
    metrics: [
      { kind: 'abandonment_rate', short_abandon_s: 10, target: 32, period: 'month' },
      { kind: 'asa', target: 30, period: 'month' },
    ],
    remedies: { fee_per_period: 1000, credit_per_point: 20, credit_cap: 100, currency: 'EUR' },
  });

  await login(page, manager.email, manager.password);
  await page.goto('/compliance');
  const row = page.locator(`tr[data-contract="${contract.id}"]`);
  await expect(row).toContainText(`Acme ${tag}`);
  await row.getByRole('link', { name: `Acme ${tag}` }).click();
  await expect(page.getByRole('heading', { name: `Acme ${tag}` })).toBeVisible();
  // October: the period link or the form; the review date is highlighted.
  await page.goto(`/compliance/${contract.id}?period=2026-10`);
  await expect(page.locator('.review.due')).toBeVisible();
  const abandon = page.locator('tr[data-metric="abandonment_rate"]');
  // 1 abandoned after 100 s of 3 counted (the 5 s one is a short abandon): 33.3 % against
  // 32 %: 4.2 % worse, the warning band; 1.3 points below at 20 EUR a point.
  await expect(abandon.locator('td.actual')).toHaveText('33.3 %');
  await expect(abandon).toContainText('1 / 3');
  await expect(abandon.locator('[data-band]').first()).toHaveText('Warning');
  await expect(abandon).toContainText('Alert workforce management');
  await expect(abandon).toContainText('−26.67 EUR');
  const asa = page.locator('tr[data-metric="asa"]');
  await expect(asa.locator('td.actual')).toHaveText('30 s');
  await expect(asa.locator('[data-band]').first()).toHaveText('On target');
  await expect(page.locator('section.contract')).toHaveAttribute('data-band', 'warning');
  await expect(page.locator('.summary')).toContainText('Alert workforce management');
  await expect(page.locator('.summary .money')).toContainText('the client pays 973.33 EUR');
  // An average's "Counted" is how many contacts it averages.
  await expect(asa.locator('td.num.muted')).toHaveText(/^\d+ contacts$/);
  // One period with figures: the trend says so instead of drawing an empty frame.
  await expect(page.locator('figure.trend[data-metric="abandonment_rate"] svg')).toHaveCount(0);
  await expect(page.locator('figure.trend[data-metric="abandonment_rate"]')).toContainText('Only one period has figures so far (2026-10: 33.3 %)');
  // Breakdown by team, and the conversations behind billing's abandonment rate.
  const teams = page.locator('.breakdown[data-dimension="team"]');
  await expect(teams.locator('tr', { hasText: 'billing' })).toContainText('50.0 %');
  await teams.locator('tr', { hasText: 'billing' }).getByRole('link').click();
  const drill = page.locator('#drill');
  await expect(drill).toContainText('the 2 conversations counted');
  await expect(drill.locator('tbody tr').first()).toContainText(`${tag}-c`);
  // The CSV is offered for the same period.
  await expect(page.getByRole('link', { name: 'Download CSV' })).toHaveAttribute('href', `/api/v1/contracts/${contract.id}/compliance.csv?period=2026-10`);

  // The editor: a field error, then a change.
  await page.goto(`/compliance/${contract.id}/edit`);
  await page.getByLabel('Contract name').fill('');
  await page.getByRole('button', { name: 'Save contract' }).click();
  await expect(page.locator('.field-error[data-field="name"]')).toBeVisible();
  await page.getByLabel('Contract name').fill(`Acme renewed ${tag}`);
  await page.getByRole('button', { name: 'Save contract' }).click();
  await expect(page.getByRole('heading', { name: `Acme renewed ${tag}` })).toBeVisible();
  await expect(page.locator('.flash')).toContainText('Contract saved.');

  // The staffing what-if on the compliance page.
  await page.goto('/compliance?transactions=100&aht_min=3&interval_min=30&within_s=20&service_level=80&max_occupancy=85&shrinkage=30');
  await expect(page.locator('[data-erlang-c]')).toHaveAttribute('data-erlang-c', '14');

  // An agent is refused the pages and the API.
  await page.context().clearCookies();
  await login(page, agent.email, agent.password);
  for (const path of ['/compliance', `/compliance/${contract.id}`]) {
    const resp = await page.goto(path);
    expect(resp.status()).toBe(403);
    await expect(page.getByRole('heading', { name: '403 · Not allowed' })).toBeVisible();
  }
  const refused = await page.request.get(`/api/v1/contracts/${contract.id}/compliance`);
  expect(refused.status()).toBe(403);
});
