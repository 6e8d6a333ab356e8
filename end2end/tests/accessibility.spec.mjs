// Every page passes axe-core's WCAG 2.1 A and AA rules, as the server renders it (JavaScript
// off) and hydrated: the login page, and each page an admin reaches with some data in it (a
// conversation, a calendar, a policy, a rule, a contract with its figures).
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { api, loginToQueue, ready } from './support.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** axe-core's violations on the page, one line each: rule, impact, the elements. With the
 * page's JavaScript off, Chromium runs no timer either, and axe needs them: the page as the
 * server rendered it (its HTML, scripts taken out) is shown again in a context where the
 * test's script may run, on the same address so that its styles load. */
async function violations(page, browser, info) {
  let checked = page;
  let context = null;
  if (info.project.name === 'js-off') {
    const html = (await page.content()).replace(/<script\b[\s\S]*?<\/script>/gi, '');
    context = await browser.newContext({ javaScriptEnabled: true });
    checked = await context.newPage();
    const url = page.url();
    await checked.route(url, (route) => route.fulfill({ contentType: 'text/html', body: html }), { times: 1 });
    await checked.goto(url);
  }
  await checked.evaluate(AXE);
  const found = await checked.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
  }, TAGS);
  if (context) {
    await context.close();
  }
  return found;
}

test('every page has no WCAG 2.1 A/AA violation', async ({ page, request, browser }, info) => {
  const tag = `a11y-${info.project.name}`;
  const calendar = await api(request, 'POST', '/api/v1/calendars', {
    name: `Office ${tag}`, timezone: 'Europe/Amsterdam',
    hours: { mon: ['09:00-17:00'], tue: ['09:00-17:00'], wed: ['09:00-17:00'], thu: ['09:00-17:00'], fri: ['09:00-17:00'] },
    holidays: ['2026-12-25'],
  });
  await api(request, 'POST', '/api/v1/policies', { name: `Policy ${tag}`, first_response: '1h', resolution: '1d', calendar_id: calendar.id });
  await api(request, 'POST', '/api/v1/rules', {
    name: `Rule ${tag}`, enabled: true, event: 'conversation.created', match: 'all',
    conditions: [{ field: 'priority', op: 'is', value: 'urgent' }],
    actions: [{ type: 'add_label', label: 'vip' }], stop: false,
  });
  // The queue shows a badge of each colour: gray, orange (past the warning), red (breached).
  const quick = await api(request, 'POST', '/api/v1/policies', { name: `Quick ${tag}`, first_response: '2m', warning: '50%' });
  await api(request, 'PUT', '/api/v1/settings/default-policy', { policy: quick.id });
  const now = Date.now();
  const events = [];
  for (const [name, ago] of [['Ann', 5], ['Bob', 80], ['Cy', 300]]) {
    const conversation = `${tag}-${name}`;
    events.push(
      { id: `${conversation}-1`, type: 'conversation.created', conversation, channel: 'whatsapp', at: new Date(now - ago * 1000).toISOString(),
        contact: { name, email: `${name.toLowerCase()}@a11y.test` }, team: 'Support', priority: 'urgent' },
      { id: `${conversation}-2`, type: 'message.created', conversation, author: 'customer', text: 'Hello?', at: new Date(now - ago * 1000).toISOString() },
    );
  }
  await api(request, 'POST', '/api/v1/events', { events });
  const contract = await api(request, 'POST', '/api/v1/contracts', {
    name: `Contract ${tag}`, counterparty_kind: 'client', counterparty: 'Acme', review_date: '2027-06-30',
    scope: { email_domains: ['a11y.test'] },
    metrics: [
      { kind: 'frt_attainment', target: 90, period: 'month' },
      { kind: 'asa', target: 30, period: 'month' },
    ],
    remedies: { currency: 'EUR' },
  });

  await page.goto('/login');
  const found = { '/login': await violations(page, browser, info) };
  await loginToQueue(page);
  for (const tone of ['ok', 'warning', 'breached']) {
    await expect(page.locator(`.queue-table .badge.${tone}`).first()).toBeVisible();
  }
  const id = await page.getByRole('link', { name: /Ann/ }).first().getAttribute('href');
  const pages = ['/', id, '/account', '/policies', '/calendars', '/rules', '/channels', '/compliance',
    '/compliance/new', `/compliance/${contract.id}`, `/compliance/${contract.id}/edit`, '/admin/users', '/admin/audit',
    '/live', `/policies/${quick.id}/what-if`, '/notifications',
    `/policies/${quick.id}/what-if?name=${encodeURIComponent(`Quick ${tag}`)}&frt_value=5&frt_unit=m&level=90&run=1`];
  for (const path of pages) {
    await page.goto(path);
    await ready(page, info);
    found[path] = await violations(page, browser, info);
  }
  const failing = Object.entries(found).filter(([, v]) => v.length > 0);
  expect(failing.map(([p, v]) => `${p}\n  ${v.join('\n  ')}`).join('\n'), 'axe-core violations').toBe('');
});
