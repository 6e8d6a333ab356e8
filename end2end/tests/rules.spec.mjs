// Automation rules, as an admin builds them on the rules page: the rule (BigCorp's
// urgent mail gets the Premium policy) and a breach rule (remove the owner, apologise), seen
// working on a real conversation; field errors, reordering, and the page refused to agents.
import { test, expect } from '@playwright/test';
import { ADMIN, api, loginToQueue as login, ready } from './support.mjs';

/** Rules of this run are removed at the end, so they act on no other test. */
async function removeRules(request, tag) {
  const rules = await api(request, 'GET', '/api/v1/rules');
  for (const r of rules.filter((r) => r.name.includes(tag))) {
    await api(request, 'DELETE', `/api/v1/rules/${r.id}`);
  }
}

async function goToRules(page, info) {
  await page.goto('/rules');
  await expect(page.getByRole('heading', { name: 'Rules', exact: true })).toBeVisible();
  await ready(page, info);
  return page.locator('form.rule-form');
}

/** Fills condition row `n` (1-based); with JavaScript a field with choices offers a select. */
async function condition(form, n, field, op, value, hydrated) {
  await form.getByLabel(`Condition ${n} field`, { exact: true }).selectOption(field);
  await form.getByLabel(`Condition ${n} operator`, { exact: true }).selectOption(op);
  const input = form.getByLabel(`Condition ${n} value`, { exact: true });
  if (hydrated && field === 'priority') await input.selectOption(value);
  else await input.fill(value);
}

const ruleNames = async (page) => page.locator('.rules-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.name));

test('an admin builds rules that apply a policy and act on a breach', async ({ page, request }, info) => {
  test.setTimeout(75_000);
  const hydrated = info.project.name === 'hydrated';
  const tag = `${info.project.name}-${Date.now()}`;
  const premium = await api(request, 'POST', '/api/v1/policies', { name: `Premium ${tag}`, first_response: '20s', warning: '50%' });
  const email = `ann-${tag}@bigcorp.com`;
  const bigcorp = `BigCorp urgent ${tag}`;
  const breach = `Breach ${tag}`;
  try {
    await login(page, ADMIN.email, ADMIN.password);

    // The rule, through the builder.
    let form = await goToRules(page, info);
    await form.getByLabel('Name', { exact: true }).fill(bigcorp);
    await form.getByLabel('Event').selectOption('conversation.created');
    await condition(form, 1, 'contact.email', 'ends_with', '@bigcorp.com', hydrated);
    await condition(form, 2, 'priority', 'is', 'urgent', hydrated);
    await form.getByLabel('Action 1 type', { exact: true }).selectOption('apply_policy');
    await form.getByLabel('Action 1 policy', { exact: true }).selectOption({ label: premium.name });
    await form.getByRole('button', { name: 'Create rule' }).click();
    await expect(page.getByText('Rule created.')).toBeVisible();
    const bigcorpRow = page.locator(`tr[data-name="${bigcorp}"]`);
    await expect(bigcorpRow).toContainText('When contact.email ends with “@bigcorp.com” and priority is “urgent” → apply policy ' + premium.name);
    await expect(bigcorpRow).toContainText('Enabled');

    // A breach rule for this conversation only (other tests' conversations breach too).
    form = await goToRules(page, info);
    await form.getByLabel('Name', { exact: true }).fill(breach);
    await form.getByLabel('Event').selectOption('sla.breached');
    await condition(form, 1, 'contact.email', 'is', email, hydrated);
    await form.getByLabel('Action 1 type', { exact: true }).selectOption('remove_owner');
    await form.getByLabel('Action 2 type', { exact: true }).selectOption('send_message');
    await form.getByLabel('Action 2 message', { exact: true }).fill('Sorry {{contact.name}}, we are late.');
    await form.getByRole('button', { name: 'Create rule' }).click();
    await expect(page.getByText('Rule created.')).toBeVisible();
    await expect(page.locator(`tr[data-name="${breach}"]`)).toContainText('remove owner; send message “Sorry {{contact.name}}, we are late.”');

    // A matching conversation with an owner.
    const ext = `mail-${tag}`;
    await api(request, 'POST', '/api/v1/events', { events: [
      { id: `${ext}-1`, type: 'conversation.created', conversation: ext, channel: 'email', priority: 'urgent', contact: { name: 'Ann Lee', email } },
      { id: `${ext}-2`, type: 'message.created', conversation: ext, author: 'customer', text: 'Our site is down!' },
      { id: `${ext}-3`, type: 'conversation.updated', conversation: ext, owner: ADMIN.email },
    ] });
    const t0 = Date.now();
    await page.goto('/');
    const row = page.locator(`tr[data-external-id="${ext}"]`);
    const badge = row.locator('.badge');
    // The rule put it on Premium: a 20 s first response.
    await expect(async () => {
      if (!hydrated) await page.reload();
      await expect(badge).toHaveAttribute('aria-label', /^First response: 1?\ds left$|^First response: 20s left$/, { timeout: 1_000 });
    }).toPass({ timeout: 5_000 });
    await expect(row).toContainText(ADMIN.email);

    // Meanwhile: an empty name is refused next to it, and Up/Down reorder.
    form = await goToRules(page, info);
    await form.getByLabel('Event').selectOption('message.created');
    await form.getByLabel('Action 1 type', { exact: true }).selectOption('remove_owner');
    await form.getByRole('button', { name: 'Create rule' }).click();
    await expect(page.locator('[data-field="name"]')).toContainText('is required');
    await expect(form.getByLabel('Action 1 type', { exact: true })).toHaveValue('remove_owner');

    const ours = async () => (await ruleNames(page)).filter((n) => n.includes(tag));
    expect(await ours()).toEqual([bigcorp, breach]);
    await page.locator(`tr[data-name="${breach}"]`).getByRole('button', { name: 'Up' }).click();
    await expect(page.getByText('Rule moved.')).toBeVisible();
    await expect.poll(ours).toEqual([breach, bigcorp]);
    await page.locator(`tr[data-name="${breach}"]`).getByRole('button', { name: 'Down' }).click();
    await expect.poll(ours).toEqual([bigcorp, breach]);

    // The breach: the badge turns red, the owner goes, the customer gets the apology.
    await page.goto('/');
    await expect(async () => {
      if (!hydrated) await page.reload();
      await expect(badge).toHaveAttribute('data-state', 'breached', { timeout: 1_000 });
      await expect(row).toContainText('Unassigned', { timeout: 1_000 });
    }).toPass({ timeout: 30_000 });
    expect(Date.now() - t0).toBeGreaterThan(18_000);
    await expect(row).not.toContainText(ADMIN.email);
    await row.getByRole('link').first().click();
    await expect(page.locator('.thread')).toContainText('Sorry Ann Lee, we are late.');
  } finally {
    await removeRules(request, tag);
  }
});

test('an agent is refused the rules page', async ({ page, request }, info) => {
  const agent = `rules-agent-${info.project.name}-${Date.now()}@e2e.test`;
  await api(request, 'POST', '/api/v1/users', { email: agent, name: 'Rita Rules', role: 'agent', password: 'agent-password-1' });
  await login(page, agent, 'agent-password-1');
  await expect(page.getByRole('link', { name: 'Rules', exact: true })).toHaveCount(0);
  const resp = await page.goto('/rules');
  expect(resp.status()).toBe(403);
  await expect(page.getByRole('heading', { name: '403 · Not allowed' })).toBeVisible();
});
