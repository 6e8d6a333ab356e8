// Times in the reader's own zone: a user chooses one on the account page (or keeps the
// browser's), and the conversation page shows its times in it, with the zone's abbreviation;
// the API stays in UTC.
import { test, expect } from '@playwright/test';
import { api, loginToQueue, ready } from './support.mjs';

/** `instant` on a wall clock `hours` east of UTC: "2026-12-07 21:00:00". */
function wall(instant, hours) {
  return new Date(instant.getTime() + hours * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** "2026-12-07T12:00:00Z", as the API writes a whole second. */
function utc(instant) {
  return instant.toISOString().replace('.000Z', 'Z');
}

/** A new agent, and a conversation of theirs whose customer wrote an hour ago (a whole
 * second): the agent's e-mail and password, the conversation's id and that instant. */
async function agentWithConversation(request, info, name) {
  const stamp = `${info.project.name}-${Date.now()}`;
  const email = `${name}-${stamp}@e2e.test`;
  const password = `${name}-password-1`;
  await api(request, 'POST', '/api/v1/users', { email, role: 'agent', password });
  const ext = `tz-${name}-${stamp}`;
  const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${ext}-1`, type: 'conversation.created', conversation: ext, channel: 'email', contact: { name: 'Tomo Tanaka' }, at: utc(at) },
    { id: `${ext}-2`, type: 'message.created', conversation: ext, author: 'customer', text: 'Is my order on its way?', at: utc(at) },
    { id: `${ext}-3`, type: 'conversation.updated', conversation: ext, owner: email, at: utc(at) },
  ] });
  const mine = await api(request, 'GET', `/api/v1/conversations?owner=${encodeURIComponent(email)}`);
  const conversation = mine.find((c) => c.external_id === ext);
  expect(conversation, `${ext} among ${email}'s conversations`).toBeTruthy();
  // Resolved at once: its page still shows it, and the shared queue stays as other specs
  // expect it.
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${ext}-4`, type: 'conversation.updated', conversation: ext, status: 'resolved', at: utc(at) },
  ] });
  return { email, password, id: conversation.id, at };
}

test('a user in another time zone sees local times', async ({ page, request }, info) => {
  const { email, password, id, at } = await agentWithConversation(request, info, 'tokyo');
  await loginToQueue(page, email, password);
  await page.goto('/account');
  const form = page.locator('form.time-zone');
  const zone = form.getByLabel('Time zone');
  await expect(zone).toHaveValue('');
  await expect(zone.locator('option:checked')).toHaveText("Browser's time zone");
  await zone.selectOption('Asia/Tokyo');
  await form.getByRole('button', { name: 'Save time zone' }).click();
  await expect(page.getByText('Time zone saved.')).toBeVisible();
  await expect(page.locator('form.time-zone').getByLabel('Time zone')).toHaveValue('Asia/Tokyo');
  await expect(page.getByTestId('zone-in-use')).toHaveText('Times are shown in Asia/Tokyo.');

  // Tokyo is UTC+9 all year.
  await page.goto(`/conversations/${id}`);
  const message = page.locator('li.message.customer');
  await expect(message).toContainText('Is my order on its way?');
  await expect(message).toContainText(`${wall(at, 9)} JST`);
  await expect(message).not.toContainText('UTC');

  // The API stays in UTC, and says what the user chose.
  const detail = await api(request, 'GET', `/api/v1/conversations/${id}`);
  expect(JSON.stringify(detail)).toContain(utc(at));
  const users = await api(request, 'GET', '/api/v1/users');
  expect(users.find((u) => u.email === email).timezone).toBe('Asia/Tokyo');

  // Back to the browser's zone: null again.
  await page.goto('/account');
  await page.locator('form.time-zone').getByLabel('Time zone').selectOption('');
  await page.locator('form.time-zone').getByRole('button', { name: 'Save time zone' }).click();
  await expect(page.getByText('Time zone saved.')).toBeVisible();
  const after = await api(request, 'GET', '/api/v1/users');
  expect(after.find((u) => u.email === email).timezone).toBeNull();
});

test.describe('a user without a zone of their own', () => {
  // Honolulu: UTC-10 all year, "HST" (a name Chromium's ICU and the tz database agree on).
  test.use({ timezoneId: 'Pacific/Honolulu' });

  test("reads the browser's zone once the app has run, else UTC", async ({ page, request }, info) => {
    const { email, password, id, at } = await agentWithConversation(request, info, 'honolulu');
    await loginToQueue(page, email, password);
    // Hydrated, the app tells the server the browser's zone as it starts.
    await ready(page, info);
    await page.goto(`/conversations/${id}`);
    const message = page.locator('li.message.customer');
    await expect(message).toContainText('Is my order on its way?');
    if (info.project.name === 'hydrated') {
      await expect(message).toContainText(`${wall(at, -10)} HST`);
      await page.goto('/account');
      await expect(page.getByTestId('zone-in-use')).toHaveText('Times are shown in Pacific/Honolulu.');
    } else {
      await expect(message).toContainText(`${wall(at, 0)} UTC`);
      await page.goto('/account');
      await expect(page.getByTestId('zone-in-use')).toContainText('Times are shown in UTC');
    }
  });
});
