// An agent's conversation breaches its first response: the agent is told. Hydrated (Chromium
// with the notification permission granted): a browser notification with the breach comes
// while the queue is open, and the bell counts it without a reload. JavaScript off: the bell
// counts it on the next page, and the notifications page opens the conversation.
import { test, expect } from '@playwright/test';
import { api, login, ready } from './support.mjs';

test('an agent is told of a breach on their conversation', async ({ page, context, request }, info) => {
  const tag = `note-${info.project.name}-${Date.now()}`;
  const team = `Team ${tag}`;
  const agent = { email: `agent-${tag}@e2e.test`, password: 'agent-password-1' };
  await api(request, 'POST', '/api/v1/users', { ...agent, name: 'Nora Note', role: 'agent' });
  // Four seconds to a first response for this team's conversations.
  const policy = await api(request, 'POST', '/api/v1/policies', { name: `Fast ${tag}`, first_response: '4s', warning: '50%' });
  await api(request, 'POST', '/api/v1/rules', {
    name: `Fast for ${tag}`, event: 'conversation.created',
    conditions: [{ field: 'team', op: 'is', value: team }],
    actions: [{ type: 'apply_policy', policy: policy.id }],
  });
  if (info.project.name === 'hydrated') {
    await context.grantPermissions(['notifications']);
    // What the page asks the browser to show, kept for the test to read.
    await page.addInitScript(() => {
      const Real = window.Notification;
      window.__shown = [];
      class Recorded extends Real {
        constructor(title, options) {
          super(title, options);
          window.__shown.push({ title, body: options && options.body });
        }
      }
      Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
      Recorded.requestPermission = (...a) => Real.requestPermission(...a);
      window.Notification = Recorded;
    });
  }

  await login(page, agent.email, agent.password);
  await expect(page.getByRole('heading', { name: 'Queue' })).toBeVisible();
  await ready(page, info);
  const bell = page.getByRole('link', { name: /^Notifications: \d+ unread$/ });
  await expect(bell).toHaveAttribute('data-unread', '0');

  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${tag}-1`, type: 'conversation.created', conversation: tag, channel: 'whatsapp', team, contact: { name: `Nina ${tag}` } },
    { id: `${tag}-2`, type: 'conversation.updated', conversation: tag, owner: agent.email },
  ] });
  const title = `First response breached: Nina ${tag} on WhatsApp`;

  if (info.project.name === 'hydrated') {
    await expect.poll(
      () => page.evaluate(() => window.__shown.map((n) => n.title)),
      { timeout: 20_000 },
    ).toContain(title);
    // The warning came first (at half the target), then the breach; the bell counted both.
    const shown = await page.evaluate(() => window.__shown.map((n) => n.title));
    expect(shown).toContain(`First response running out: Nina ${tag} on WhatsApp`);
    await expect(bell).toHaveAttribute('data-unread', '2');
  } else {
    await expect(async () => {
      await page.reload();
      await expect(bell).toHaveAttribute('data-unread', '2', { timeout: 1_000 });
    }).toPass({ timeout: 20_000 });
  }

  // The list, and opening the breach: its conversation, and one unread left.
  await bell.click();
  await expect(page.getByRole('heading', { name: 'Notifications', exact: true })).toBeVisible();
  await page.getByRole('button', { name: title }).click();
  await expect(page).toHaveURL(/\/conversations\/\d+$/);
  await expect(page.getByText(`Nina ${tag}`).first()).toBeVisible();
  await expect(page.getByRole('link', { name: 'Notifications: 1 unread' })).toBeVisible();
  // Done: resolved, so the shared queue stays as other specs expect it.
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${tag}-3`, type: 'conversation.updated', conversation: tag, status: 'resolved' },
  ] });
});
