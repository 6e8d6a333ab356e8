// SLA settings, as an admin uses them: a business-hours calendar, a policy counting its open
// hours, the preview of when a message would be due, and editing the policy.
import { test, expect } from '@playwright/test';
import { ADMIN, fillLabelled, loginToQueue, ready } from './support.mjs';

/** A save refused on one field: `message` next to it, no row named `name`, and the form still
 * holds the name typed. */
async function expectRefused(page, form, field, message, name) {
  await expect(page.locator(`[data-field="${field}"]`)).toContainText(message);
  await expect(page.locator(`tr[data-name="${name}"]`)).toHaveCount(0);
  await expect(form.getByLabel('Name', { exact: true })).toHaveValue(name);
}

/** Sets one of the policy form's durations: `value` in `unit` ("m", "h", "%", …) for the
 * target or threshold `key` ("frt", "warning", …). */
async function setDuration(form, key, value, unit) {
  await form.locator(`input[name="${key}_value"]`).fill(value);
  await form.locator(`select[name="${key}_unit"]`).selectOption(unit);
}

test('an admin creates a calendar and a policy that counts its hours, previews and edits it', async ({ page }, info) => {
  const suffix = `${info.project.name}-${Date.now()}`;
  const calendarName = `Office ${suffix}`;
  const policyName = `Gold ${suffix}`;
  await loginToQueue(page, ADMIN.email, ADMIN.password);

  // A calendar: a bad Tuesday window is refused next to Tuesday, and what was typed stays.
  await page.goto('/calendars');
  await expect(page.getByRole('heading', { name: 'Calendars', exact: true })).toBeVisible();
  const calendarForm = page.locator('form.calendar-form');
  await fillLabelled(calendarForm, {
    Name: calendarName, 'Time zone': { option: 'Europe/Amsterdam' }, Tuesday: '09:00-12:00, 25:00-26:00',
  }, ['Name']);
  await calendarForm.getByRole('button', { name: 'Create calendar' }).click();
  await expectRefused(page, calendarForm, 'tue', '"25:00-26:00" is not a valid time window', calendarName);
  await expect(calendarForm.getByLabel('Time zone')).toHaveValue('Europe/Amsterdam');

  await fillLabelled(calendarForm, {
    Tuesday: '09:00-12:00, 13:00-17:00', Holidays: '2035-12-25',
    'Date overrides': '2035-12-24: 09:00-13:00\n2035-12-31: closed',
  });
  await calendarForm.getByRole('button', { name: 'Create calendar' }).click();
  await expect(page.getByText('Calendar created.')).toBeVisible();
  const calendarRow = page.locator(`tr[data-name="${calendarName}"]`);
  await expect(calendarRow).toContainText('Europe/Amsterdam');
  await expect(calendarRow).toContainText('Tue 09:00-12:00, 13:00-17:00');
  await expect(calendarRow).toContainText('1 holiday(s) · 2 override(s)');

  // A policy on that calendar: 30 minutes to the first response, in business hours.
  await page.goto('/policies');
  await expect(page.getByRole('heading', { name: 'Policies', exact: true })).toBeVisible();
  await ready(page, info);
  const policyForm = page.locator('form.policy-form');
  const preview = page.getByTestId('preview');
  await fillLabelled(policyForm, { Name: policyName }, ['Name']);
  await setDuration(policyForm, 'frt', '30', 'm');
  await policyForm.getByLabel('Count business hours only').check();
  await policyForm.getByLabel('Calendar').selectOption({ label: `${calendarName} (Europe/Amsterdam)` });
  if (info.project.name === 'hydrated') {
    // The preview follows the form before anything is saved.
    await expect(preview).toContainText('A message on Friday 16:45 would be due Monday 09:15');
  }
  await policyForm.getByRole('button', { name: 'Create policy' }).click();
  await expect(page.getByText('Policy created.')).toBeVisible();
  const policyRow = page.locator(`tr[data-name="${policyName}"]`);
  await expect(policyRow).toContainText('First response 30m');
  await expect(policyRow).toContainText('Business hours');
  await expect(policyRow).toContainText(calendarName);
  await expect(policyRow).toContainText('v1');
  await expect(preview).toContainText('would be due');
  await expect(preview).toContainText('A message on Friday 16:45 would be due Monday 09:15');
  await expect(preview).toContainText('A message on Monday 10:00 would be due Monday 10:30');

  // Edit it: one hour instead of thirty minutes.
  await policyRow.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByRole('heading', { name: `Edit “${policyName}” (version 1)` })).toBeVisible();
  await ready(page, info);
  await setDuration(policyForm, 'frt', '1', 'h');
  if (info.project.name === 'hydrated') {
    await expect(preview).toContainText('A message on Friday 16:45 would be due Monday 09:45');
  }
  await policyForm.getByRole('button', { name: 'Save policy' }).click();
  await expect(page.getByText(/Policy saved as version \d+\./)).toBeVisible();
  await expect(policyRow).toContainText('First response 1h');
  await expect(preview).toContainText('A message on Friday 16:45 would be due Monday 09:45');
  await expect(page.locator('.versions-table tbody tr')).not.toHaveCount(0);

  // The calendar is in use: deleting it is refused with a clear message.
  await page.goto('/calendars');
  await page.locator(`tr[data-name="${calendarName}"]`).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('alert')).toContainText(`is used by the policy ${policyName} and cannot be deleted`);
  await expect(page.locator(`tr[data-name="${calendarName}"]`)).toHaveCount(1);
});

test('a target that is not a number is refused on its field and nothing is stored', async ({ page }, info) => {
  const policyName = `Broken ${info.project.name}-${Date.now()}`;
  await loginToQueue(page, ADMIN.email, ADMIN.password);
  await page.goto('/policies');
  await ready(page, info);
  const policyForm = page.locator('form.policy-form');
  await fillLabelled(policyForm, { Name: policyName }, ['Name']);
  await setDuration(policyForm, 'warning', '250', '%');
  await policyForm.getByRole('button', { name: 'Create policy' }).click();
  await expectRefused(page, policyForm, 'warning', 'not a valid percentage', policyName);
});
