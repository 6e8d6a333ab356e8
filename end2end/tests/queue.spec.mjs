// The live queue as an agent sees it: events posted by a channel appear without a reload,
// badges count down and change colour at the right seconds, a reply turns them met.
import { test, expect } from '@playwright/test';
import { ADMIN, api, loginToQueue as login, ready } from './support.mjs';

/** A default policy with a 20 s first response that warns at 50 %. */
async function twentySecondPolicy(request, name) {
  const p = await api(request, 'POST', '/api/v1/policies', { name, first_response: '20s', warning: '50%' });
  await api(request, 'PUT', '/api/v1/settings/default-policy', { policy: p.id });
  return p;
}

const row = (page, ext) => page.locator(`tr[data-external-id="${ext}"]`);

test('a conversation posted by a channel appears in the queue, counts down and turns met on reply', async ({ page, request }, info) => {
  const hydrated = info.project.name === 'hydrated';
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await twentySecondPolicy(request, `Twenty seconds ${info.project.name}`);
  await login(page);
  if (hydrated) {
    await expect(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible({ timeout: 10_000 });
  }

  const ext = `wa-${info.project.name}-${Date.now()}`;
  const t0 = Date.now();
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${ext}-1`, type: 'conversation.created', conversation: ext, channel: 'whatsapp', contact: { name: 'Wendy Waiting' } },
    { id: `${ext}-2`, type: 'message.created', conversation: ext, author: 'customer', text: 'Is anyone there?' },
  ] });

  if (hydrated) {
    // Arrives over the live stream, without a reload, within a second.
    await expect(row(page, ext)).toBeVisible({ timeout: 1_000 });
  } else {
    await page.reload();
  }
  const badge = row(page, ext).locator('.badge');
  await expect(row(page, ext)).toContainText('Wendy Waiting');
  await expect(row(page, ext)).toContainText('Is anyone there?');
  await expect(badge).toHaveAttribute('data-state', 'ok');
  await expect(badge).toHaveAttribute('title', 'First response');
  await expect(badge).toHaveAttribute('aria-label', /^First response: \d+s left$/);

  // Orange from 10 s left (50 % of 20 s), red once the 20 s are over.
  if (hydrated) {
    await expect(badge).toHaveAttribute('data-state', 'warning', { timeout: 12_000 });
    const orangeAt = Date.now() - t0;
    expect(orangeAt).toBeGreaterThan(8_500);
    expect(orangeAt).toBeLessThan(12_000);
    await expect(badge).toHaveAttribute('data-state', 'breached', { timeout: 13_000 });
    const redAt = Date.now() - t0;
    expect(redAt).toBeGreaterThan(19_500);
    expect(redAt).toBeLessThan(23_000);
    await expect(badge).toHaveText(/^-\d+s$/);
    await expect(badge).toHaveClass(/breached/);
  } else {
    // Without JavaScript only a reload shows the change: reload until it does (polling with
    // a deadline, not a fixed wait).
    const reloadUntil = (state, text, timeout) => expect(async () => {
      await page.reload();
      await expect(badge).toHaveAttribute('data-state', state, { timeout: 250 });
      await expect(badge).toHaveText(text, { timeout: 250 });
    }).toPass({ timeout, intervals: [250, 500] });
    await reloadUntil('warning', /\d/, 15_000);
    await expect(badge).toHaveClass(/warning/);
    // The first second after the deadline reads "0s"; then "-1s", "-2s", ...
    await reloadUntil('breached', /^-\d+s$/, 15_000);
  }
  await expect(badge).toHaveAttribute('aria-label', /^First response: breached \d+s ago$/);

  // The agent answers: the first-response clock is finished, so no running badge remains.
  await api(request, 'POST', '/api/v1/events', { id: `${ext}-3`, type: 'message.created', conversation: ext, author: 'agent', text: 'Sorry for the wait!', agent_email: ADMIN.email });
  if (!hydrated) await page.reload();
  await expect(row(page, ext).locator('.badge')).toHaveAttribute('data-state', 'missed', { timeout: 2_000 });
  await expect(row(page, ext)).toContainText('Sorry for the wait!');
  expect(errors, 'no script errors while the badges ticked').toEqual([]);
});

test('filters narrow the queue and work as links', async ({ page, request }, info) => {
  const tag = `${info.project.name}-${Date.now()}`;
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${tag}-a`, type: 'conversation.created', conversation: `sms-${tag}`, channel: 'sms', contact: { name: `Sam ${tag}` } },
    { id: `${tag}-b`, type: 'conversation.created', conversation: `mail-${tag}`, channel: 'email', contact: { name: `Eve ${tag}` }, team: `Team ${tag}` },
    { id: `${tag}-c`, type: 'conversation.updated', conversation: `mail-${tag}`, owner: ADMIN.email },
  ] });
  await login(page);
  await expect(page.getByText(`Sam ${tag}`)).toBeVisible();
  await expect(page.getByText(`Eve ${tag}`)).toBeVisible();

  await page.locator('[data-filter="channel"]').getByRole('link', { name: 'SMS' }).click();
  await expect(page).toHaveURL(/channel=sms/);
  await expect(page.getByText(`Sam ${tag}`)).toBeVisible();
  await expect(page.getByText(`Eve ${tag}`)).toHaveCount(0);

  // Each filter link keeps the others: wait for the cleared queue before choosing the next
  // (a link clicked before the page changes still carries the old filters).
  await page.getByRole('link', { name: 'Clear filters' }).click();
  await expect(page).not.toHaveURL(/channel=/);
  await expect(page.getByRole('link', { name: 'Mine' })).toHaveAttribute('href', '/?owner=me');
  await page.getByRole('link', { name: 'Mine' }).click();
  await expect(page).toHaveURL(/owner=me/);
  await expect(page.getByText(`Eve ${tag}`)).toBeVisible();
  await expect(page.getByText(`Sam ${tag}`)).toHaveCount(0);

  await page.getByRole('link', { name: 'Clear filters' }).click();
  await expect(page).not.toHaveURL(/owner=/);
  await expect(page.getByRole('link', { name: 'Unassigned' })).toHaveAttribute('href', '/?owner=none');
  await page.getByRole('link', { name: 'Unassigned' }).click();
  await expect(page.getByText(`Sam ${tag}`)).toBeVisible();
  await expect(page.getByText(`Eve ${tag}`)).toHaveCount(0);
});

test('a reply within the target turns the badge met', async ({ page, request }, info) => {
  await api(request, 'POST', '/api/v1/policies', { name: `Quick ${info.project.name}`, first_response: '10m' })
    .then((p) => api(request, 'PUT', '/api/v1/settings/default-policy', { policy: p.id }));
  const ext = `web-${info.project.name}-${Date.now()}`;
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${ext}-1`, type: 'message.created', conversation: ext, author: 'customer', text: 'Quick question' },
  ] });
  await login(page);
  const badge = row(page, ext).locator('.badge');
  await expect(badge).toHaveAttribute('data-state', 'ok');
  await expect(badge).toHaveText(/^(10m|9m)$/);
  await api(request, 'POST', '/api/v1/events', { id: `${ext}-2`, type: 'message.created', conversation: ext, author: 'agent', text: 'Quick answer' });
  if (info.project.name !== 'hydrated') await page.reload();
  await expect(badge).toHaveAttribute('data-state', 'met', { timeout: 2_000 });
  await expect(badge).toHaveText('met');
});


test('an agent opens a conversation, replies, claims and resolves it', async ({ page, request }, info) => {
  await api(request, 'POST', '/api/v1/policies', { name: `Reply ${info.project.name}`, first_response: '30m', resolution: '4h' })
    .then((p) => api(request, 'PUT', '/api/v1/settings/default-policy', { policy: p.id }));
  const ext = `ig-${info.project.name}-${Date.now()}`;
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${ext}-1`, type: 'conversation.created', conversation: ext, channel: 'instagram', visibility: 'public', contact: { handle: `@cat_${info.project.name}` } },
    { id: `${ext}-2`, type: 'message.created', conversation: ext, author: 'customer', text: 'My parcel never came' },
  ] });
  await login(page);
  await row(page, ext).getByRole('link', { name: `@cat_${info.project.name}` }).click();
  await expect(page.getByRole('heading', { name: `@cat_${info.project.name}` })).toBeVisible();
  await expect(page.getByText('My parcel never came')).toBeVisible();
  const frt = page.locator('[data-metric="firstresponse"] .badge');
  await expect(frt).toHaveAttribute('data-state', 'ok');

  // A private note does not answer the customer.
  await page.getByLabel('Reply').fill('Checking with the courier');
  await page.getByLabel(/Private note/).check();
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByText('Private note added.')).toBeVisible();
  await expect(frt).toHaveAttribute('data-state', 'ok');

  await page.getByLabel('Reply').fill('We are on it!');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByText('Reply recorded.')).toBeVisible();
  await expect(page.getByText('We are on it!')).toBeVisible();
  await expect(frt).toHaveAttribute('data-state', 'met');
  await expect(page.getByTestId('owner')).toHaveText(ADMIN.email);

  await page.getByRole('button', { name: 'Unassign' }).click();
  await expect(page.getByTestId('owner')).toHaveText('Unassigned');
  await page.getByRole('button', { name: 'Claim' }).click();
  await expect(page.getByTestId('owner')).toHaveText(ADMIN.email);

  const rt = page.locator('[data-metric="resolution"] .badge');
  await expect(rt).toHaveAttribute('data-state', 'ok');
  await page.getByRole('button', { name: 'Resolve' }).click();
  await expect(rt).toHaveAttribute('data-state', 'met');
  await page.getByRole('link', { name: '← Queue' }).click();
  await expect(row(page, ext)).toHaveCount(0);
});

test('an agent takes the next conversation from the queue', async ({ page, request }, info) => {
  const agent = { email: `taker-${info.project.name}-${Date.now()}@e2e.test`, password: 'taker-password-1' };
  await api(request, 'POST', '/api/v1/users', { ...agent, name: 'Tia Taker', role: 'agent' });
  const ext = `take-${info.project.name}-${Date.now()}`;
  await api(request, 'POST', '/api/v1/events', { id: `${ext}-1`, type: 'conversation.created', conversation: ext, channel: 'sms',
    contact: { name: `Waiting ${info.project.name}` } });
  await login(page, agent.email, agent.password);
  await ready(page, info);
  await page.getByRole('button', { name: 'Take next' }).click();
  // Whichever unassigned conversation is due first (the suite's others share the database)
  // opens, now the agent's.
  await expect(page.getByText('Taken: this conversation is yours')).toBeVisible();
  await expect(page).toHaveURL(/\/conversations\/\d+/);
  await expect(page.locator('main')).toContainText(agent.email);
});

test('a long queue comes in pages without JavaScript and scrolls through every row with it', async ({ page, request }, info) => {
  const hydrated = info.project.name === 'hydrated';
  const tag = `${info.project.name}-${Date.now()}`;
  const team = `Long ${tag}`;
  const n = 130;
  const ids = Array.from({ length: n }, (_, i) => `long-${tag}-${i}`);
  const events = ids.flatMap((conversation, i) => {
    const at = new Date(Date.now() - (n - i) * 1000).toISOString();
    return [
      { id: `${conversation}-1`, type: 'conversation.created', conversation, at, channel: 'webchat', team, contact: { name: `Row ${i}` } },
      { id: `${conversation}-2`, type: 'message.created', conversation, at, author: 'customer', text: `Question ${i}` },
    ];
  });
  await api(request, 'POST', '/api/v1/events', { events });
  try {
    await login(page);
    await page.goto(`/?team=${encodeURIComponent(team)}`);
    const rows = page.locator('tr[data-external-id]');
    const shown = () => rows.evaluateAll((els) => els.map((e) => e.dataset.externalId));
    const seen = new Set();
    if (!hydrated) {
      // One page at a time, each reached by its link.
      await expect(rows).toHaveCount(50);
      await expect(page.getByTestId('queue-range')).toHaveText('1–50 of 130 open');
      (await shown()).forEach((id) => seen.add(id));
      await page.getByRole('link', { name: 'Next page →' }).click();
      await expect(page.getByTestId('queue-range')).toHaveText('51–100 of 130 open');
      (await shown()).forEach((id) => seen.add(id));
      await page.getByRole('link', { name: 'Next page →' }).click();
      await expect(page.getByTestId('queue-range')).toHaveText('101–130 of 130 open');
      await expect(rows).toHaveCount(30);
      (await shown()).forEach((id) => seen.add(id));
      await expect(page.getByRole('link', { name: 'Next page →' })).toHaveCount(0);
      await expect(page.getByRole('link', { name: '← Previous page' })).toHaveAttribute('href', /page=2/);
    } else {
      // The scroll region keeps only the rows in view in the DOM and fetches the rest as it
      // nears them: scrolling one screen at a time reaches every row, each once.
      await ready(page, info);
      const region = page.getByRole('region', { name: 'Open conversations' });
      await expect(region.locator('table')).toHaveAttribute('aria-rowcount', String(n + 1));
      let most = 0;
      await expect.poll(async () => {
        const now = await region.evaluate((el) => {
          el.scrollTop += el.clientHeight;
          return [...el.querySelectorAll('tr[data-external-id]')].map((e) => e.dataset.externalId);
        });
        now.forEach((id) => seen.add(id));
        most = Math.max(most, now.length);
        return seen.size;
      }, { timeout: 30_000, intervals: [50] }).toBe(n);
      const inDom = (await shown()).length;
      expect(inDom, 'only the rows near the view are in the DOM').toBeLessThan(50);
      await expect(page.getByTestId('queue-range')).toHaveText('1–130 of 130 open');
      // The last row is where the queue ends, and a row still opens its conversation.
      await expect(rows.last()).toHaveAttribute('aria-rowindex', String(n + 1));
      await rows.last().getByRole('link').click();
      await expect(page).toHaveURL(/\/conversations\/\d+/);
    }
    expect([...seen].sort()).toEqual([...ids].sort());
  } finally {
    // Out of the queue again, for the tests after this one.
    await api(request, 'POST', '/api/v1/events', { events: ids.map((conversation) => (
      { id: `${conversation}-3`, type: 'conversation.updated', conversation, status: 'resolved' })) });
  }
});

test('the queue downloads only its own WebAssembly; an editor fetches its part when opened', async ({ page }, info) => {
  const hydrated = info.project.name === 'hydrated';
  const wasm = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('.wasm')) wasm.push(new URL(r.url()).pathname); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await login(page);
  await ready(page, info);
  // The login page and the queue load the one main module and nothing the other pages run
  // (with JavaScript off too: the page preloads it).
  expect(wasm.filter((p) => !/\/pkg\/promptly\.[^/]*wasm$/.test(p))).toEqual([]);
  expect(new Set(wasm).size).toBe(1);

  // The policies page, reached by its link, brings its own chunk when hydrated; its preview
  // is the server's either way, and follows the form through the server when hydrated.
  await page.getByRole('link', { name: 'Policies' }).first().click();
  await expect(page.getByRole('heading', { name: 'Policies', exact: true })).toBeVisible();
  await expect(page.getByTestId('preview')).toContainText('Set a target to see when a message would be due.');
  if (hydrated) {
    await page.locator('form.policy-form input[name="frt_value"]').fill('45');
    await expect(page.getByTestId('preview')).toContainText('First-response target 45m');
    expect(wasm.some((p) => p.includes('split___policies_route'))).toBe(true);
  }
  expect(errors).toEqual([]);
});
