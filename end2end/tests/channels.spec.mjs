// Channels straight to Promptly, as an admin connects one and an agent answers through it:
// a WhatsApp account added on the Channels page; a webhook signed with its app secret brings
// a conversation into the queue (live when hydrated); the agent replies on the conversation
// page; a fake WhatsApp Cloud API started by the test receives the send; the badge turns met.
import { test, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { api, fillLabelled, loginToQueue as login, ready } from './support.mjs';

/** A stand-in for graph.facebook.com on loopback: records each send, answers as WhatsApp. */
async function fakeGraph() {
  const sends = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      sends.push({ path: req.url, auth: req.headers.authorization, body: JSON.parse(body || '{}') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: `wamid.OUT${sends.length}` }] }));
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { sends, url: `http://127.0.0.1:${server.address().port}/v21.0`, close: () => server.close() };
}

/** A customer's text message as WhatsApp's webhook carries it. */
function customerMessage(phoneNumberId, waId, name, id, text) {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: '0', changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
      contacts: [{ profile: { name }, wa_id: waId }],
      messages: [{ from: waId, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
    } }] }],
  };
}

test('an admin connects WhatsApp, a signed webhook fills the queue, the reply goes out and the badge turns met', async ({ page, request }, info) => {
  const hydrated = info.project.name === 'hydrated';
  const graph = await fakeGraph();
  try {
    const policy = `WhatsApp ${info.project.name}`;
    await api(request, 'POST', '/api/v1/policies', { name: policy, first_response: '10m' })
      .then((p) => api(request, 'PUT', '/api/v1/settings/default-policy', { policy: p.id }));
    const phoneNumberId = String(Date.now());
    const secret = `app-secret-${info.project.name}`;
    const name = `Shop line ${info.project.name}`;

    await login(page);
    await page.getByRole('link', { name: 'Channels' }).click();
    await expect(page.getByRole('heading', { name: 'Channels', exact: true })).toBeVisible();
    await ready(page, info);
    const form = page.locator('form.channel-form');
    await fillLabelled(form, {
      Name: name,
      'Phone number id': phoneNumberId,
      'Verify token': 'verify-e2e',
      'App secret': secret,
      'Access token': 'EAAG-e2e',
      'API root': graph.url,
    }, ['Name']);
    await form.getByRole('button', { name: 'Create channel account' }).click();
    await expect(page.getByText('Channel account added.')).toBeVisible();
    const account = page.locator(`tr[data-account="${name}"]`);
    await expect(account).toContainText('No webhook received yet');
    const hook = await account.locator('input.webhook-url').inputValue();
    expect(hook).toMatch(/^\/hooks\/whatsapp\/\d+$/);

    await page.getByRole('link', { name: 'Queue' }).click();
    await expect(page.getByRole('heading', { name: 'Queue' })).toBeVisible();
    await ready(page, info);
    // The queue of this test's policy: the suite's other conversations (due sooner) would
    // push the new one below the rows the windowed table renders.
    await page.getByRole('link', { name: policy, exact: true }).click();
    await expect(page.getByRole('link', { name: policy, exact: true })).toHaveAttribute('aria-current', 'page');

    // The platform posts a customer's message, signed with the app secret.
    const waId = `31${Date.now() % 1_000_000_000}`;
    const customer = `Wanda ${info.project.name}`;
    const body = JSON.stringify(customerMessage(phoneNumberId, waId, customer, `wamid.IN-${waId}`, 'Where is my order?'));
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const refused = await request.post(hook, { data: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' } });
    expect(refused.status(), 'a wrong signature is refused').toBe(401);
    const taken = await request.post(hook, { data: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature } });
    expect(taken.status()).toBe(200);

    const row = page.locator(`tr[data-external-id="wa:${phoneNumberId}:${waId}"]`);
    if (hydrated) {
      await expect(row, 'arrives live, without a reload').toBeVisible({ timeout: 2_000 });
    } else {
      await page.reload();
    }
    await expect(row).toContainText('Where is my order?');
    await expect(row.locator('.badge')).toHaveAttribute('data-state', 'ok');

    // The agent answers on the conversation page; the reply goes out through the account.
    await row.getByRole('link', { name: customer }).click();
    await expect(page.getByRole('heading', { name: customer })).toBeVisible();
    await ready(page, info);
    await page.getByLabel('Reply').fill('It ships today!');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect(page.getByText('Reply recorded; it is on its way to the customer.')).toBeVisible();
    await expect(page.locator('[data-metric="firstresponse"] .badge')).toHaveAttribute('data-state', 'met');
    await expect.poll(() => graph.sends.length, { timeout: 10_000 }).toBe(1);
    const sent = graph.sends[0];
    expect(sent.path).toBe(`/v21.0/${phoneNumberId}/messages`);
    expect(sent.auth).toBe('Bearer EAAG-e2e');
    expect(sent.body).toMatchObject({ messaging_product: 'whatsapp', to: waId, type: 'text', text: { body: 'It ships today!' } });

    await page.getByRole('link', { name: '← Queue' }).click();
    await page.getByRole('link', { name: policy, exact: true }).click();
    await expect(row.locator('.badge')).toHaveAttribute('data-state', 'met');

    // The account's health counts the webhook it stored and the one it refused.
    await page.goto('/channels');
    await expect(account.locator('.channel-health')).toContainText('1 received · 1 failed');
  } finally {
    graph.close();
  }
});
