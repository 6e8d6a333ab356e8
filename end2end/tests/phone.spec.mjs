// On a phone (390 px wide) no page scrolls sideways: the queue, a conversation and the
// compliance pages fit the screen, with JavaScript off and hydrated.
import { test, expect } from '@playwright/test';
import { api, loginToQueue, ready } from './support.mjs';

test.use({ viewport: { width: 390, height: 844 } });

/** The page's width beyond the viewport (0 when it fits), and the widest elements that stick
 * out, to say what to fix. */
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const beyond = document.documentElement.scrollWidth - width;
    const out = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > width + 1)
      .map((e) => `${e.tagName.toLowerCase()}${e.className ? `.${String(e.className).trim().split(/\s+/).join('.')}` : ''} right=${Math.round(e.getBoundingClientRect().right)}`)
      .slice(0, 8);
    return { beyond, out };
  });
}

test('the queue, a conversation and the compliance pages fit a phone', async ({ page, request }, info) => {
  const tag = `phone-${info.project.name}`;
  const p = await api(request, 'POST', '/api/v1/policies', { name: `Phone ${tag}`, first_response: '10m', resolution: '8h' });
  await api(request, 'PUT', '/api/v1/settings/default-policy', { policy: p.id });
  const conversation = `${tag}-c`;
  const at = new Date(Date.now() - 60_000).toISOString();
  await api(request, 'POST', '/api/v1/events', { events: [
    { id: `${conversation}-1`, type: 'conversation.created', conversation, channel: 'whatsapp', at,
      contact: { name: `Penelope Longname-Fitzgerald ${info.project.name}`, email: 'penelope.longname-fitzgerald@phone.test' }, team: 'Support', priority: 'urgent' },
    { id: `${conversation}-2`, type: 'message.created', conversation, author: 'customer', at,
      text: 'My order #123456789 has not arrived and the tracking page says it left the warehouse three weeks ago.' },
  ] });
  const contract = await api(request, 'POST', '/api/v1/contracts', {
    name: `Contract ${tag}`, counterparty_kind: 'client', counterparty: 'Acme', review_date: '2027-06-30',
    scope: { email_domains: ['phone.test'] },
    metrics: [
      { kind: 'frt_attainment', target: 90, period: 'month' },
      { kind: 'service_level', within_s: 60, formula: 'answered_only', target: 80, period: 'month' },
      { kind: 'asa', target: 30, period: 'month' },
    ],
    remedies: { fee_per_period: 1000, credit_per_point: 20, credit_cap: 100, currency: 'EUR' },
  });

  await loginToQueue(page);
  await ready(page, info);
  const link = page.getByRole('link', { name: `Penelope Longname-Fitzgerald ${info.project.name}` });
  await expect(link).toBeVisible();
  const found = { '/': await overflow(page) };
  const id = await link.getAttribute('href');
  for (const path of [id, '/compliance', `/compliance/${contract.id}`]) {
    await page.goto(path);
    await ready(page, info);
    found[path] = await overflow(page);
  }
  const wide = Object.entries(found).filter(([, o]) => o.beyond > 0);
  expect(wide.map(([path, o]) => `${path}: ${o.beyond}px too wide\n  ${o.out.join('\n  ')}`).join('\n'), 'pages wider than a phone').toBe('');
});
