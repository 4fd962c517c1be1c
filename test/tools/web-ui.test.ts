/**
 * The real Temporal Web UI (ui-server v2.42.1, built from the Go module proxy) against
 * `fraiseql-observers dev-server` with `start` on it, looked at in headless Chromium: what a person
 * sees of the service's events. Screenshots are kept in `.scratch/ui-screenshots/`.
 */
import type { Frame, Page } from 'playwright-core';
import { waitFor } from '../helpers/pg';
import { requireTool, startServiceFixture, type ServiceFixture } from './fixture';
import { launchBrowser, screenshotPath, startUiServer, type HeadlessBrowser, type UiServer } from './web-ui';

jest.setTimeout(180_000);

let f: ServiceFixture;
let ui: UiServer;
let browser: HeadlessBrowser;
let page: Page;
/** Failed /api/v1 calls the UI made (a broken RPC shows up here even when the page hides it). */
const apiErrors: string[] = [];

beforeAll(async () => {
  requireTool('ui-server');
  f = await startServiceFixture('dev-server');
  ui = await startUiServer(f.address);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('response', (r) => {
    if (r.url().includes('/api/v1/') && r.status() >= 400) apiErrors.push(`${r.status()} ${r.url()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  await f?.close();
});

const workflowsUrl = (query?: string) => `${ui.url}/namespaces/default/workflows${query ? `?query=${encodeURIComponent(query)}` : ''}`;
const runUrl = async (workflowId: string, tab = '') => {
  const runId = (await f.client.workflow.getHandle(workflowId).describe()).runId;
  return `${ui.url}/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${runId}${tab ? `/${tab}` : ''}`;
};
const bodyText = () => page.locator('body').innerText();

it('lists the workflows with a count per status', async () => {
  await page.goto(workflowsUrl());
  const total = f.runs.created.length + f.runs.invoices.length + 1 + f.runs.held.length;
  await page.getByText(`${total} Workflows`).waitFor();
  await page.getByText(`${f.runs.held.length} Running`).waitFor();
  await page.getByText(`${f.runs.created.length + f.runs.invoices.length} Completed`).waitFor();
  await page.getByText('1 Failed', { exact: true }).waitFor();
  for (const id of [...f.runs.created, f.runs.deadLetter, ...f.runs.held]) await page.getByRole('link', { name: id }).waitFor();
  await page.screenshot({ path: screenshotPath('workflow-list'), fullPage: true });
});

it('filters on EntityType through the search-attribute filter bar, which offers the service\'s attributes', async () => {
  await page.goto(workflowsUrl());
  await page.getByRole('button', { name: 'Add Filter' }).click();
  const menu = page.locator('#search-attribute-menu');
  for (const name of ['EntityType', 'EventKind', 'ObserverNames', 'FailedActions', 'ChangeLogPosition']) await menu.getByText(name, { exact: true }).waitFor();
  await page.screenshot({ path: screenshotPath('filter-bar'), fullPage: true });
  await menu.getByPlaceholder('Search').fill('EntityType');
  await menu.getByText('EntityType', { exact: true }).click();
  await page.screenshot({ path: screenshotPath('filter-entity-type-chosen'), fullPage: true });
  await page.getByPlaceholder('Enter value...').fill('Invoice');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => (url.searchParams.get('query') ?? '').includes('EntityType'));
  expect(new URL(page.url()).searchParams.get('query')).toBe('`EntityType`="Invoice"');
  await page.getByText(`${f.runs.invoices.length} Workflows`).waitFor();
  for (const id of f.runs.invoices) await page.getByRole('link', { name: id }).waitFor();
  expect(await page.getByRole('link', { name: f.runs.deadLetter }).count()).toBe(0);
  await page.screenshot({ path: screenshotPath('filter-entity-type'), fullPage: true });
});

it('the "Parent Workflows" view lists every event (none has a parent)', async () => {
  await page.goto(workflowsUrl('`ParentWorkflowId` is null'));
  const total = f.runs.created.length + f.runs.invoices.length + 1 + f.runs.held.length;
  await page.getByText(`${total} Workflows`).waitFor();
});

it('shows an open processChangeEvent: summary, current details table, history, pending activity, call stack', async () => {
  const id = f.runs.held[0]!;
  await page.goto(await runUrl(id));
  await page.getByRole('heading', { name: id }).waitFor();
  await page.getByText('Running', { exact: true }).first().waitFor();
  // Workers: the UI loads current details and the call stack only when the queue has pollers.
  await waitFor('the Workers and Pending Activities tabs with their counts', async () => /Workers\s*1\s*Pending Activities\s*1\s/.test(await bodyText()), 30_000, 250);
  await page.screenshot({ path: screenshotPath('event-detail'), fullPage: true });

  await page.goto(await runUrl(id, 'user-metadata'));
  // Summary and current details are markdown, rendered each in its own iframe.
  const frameWith = async (what: string, test: (text: string) => boolean) => {
    let found: Frame | undefined;
    await waitFor(what, async () => {
      for (const frame of page.frames().filter((fr) => fr !== page.mainFrame())) {
        const text = await frame.locator('body').innerText().catch(() => '');
        if (test(text)) found = frame;
      }
      return found !== undefined;
    }, 30_000, 250);
    return found!;
  };
  await frameWith('the summary', (t) => /^UPDATE Order [0-9a-f-]{36} → order_held \(2 actions\)$/.test(t.trim()));
  const details = await frameWith('the current details table', (t) => t.includes('order_held:1'));
  expect((await details.locator('body').innerText()).trim().split('\n')[0]).toMatch(/^Running 2 actions for UPDATE Order [0-9a-f-]{36}$/);
  const rows = await details.locator('tr').allInnerTexts();
  expect(rows.map((r) => r.split('\t').map((c) => c.trim()))).toEqual([
    ['action', 'type', 'status', 'attempts', 'error'],
    ['order_held:0', 'webhook', 'succeeded', '1', ''],
    ['order_held:1', 'webhook', 'running', '', ''],
  ]);
  await page.screenshot({ path: screenshotPath('event-summary-and-details'), fullPage: true });

  await page.goto(await runUrl(id, 'history'));
  for (const type of ['Workflow Execution Started', 'Activity Task Scheduled', 'Activity Task Completed']) await page.getByText(type).first().waitFor();

  await page.goto(await runUrl(id, 'pending-activities'));
  await waitFor('the pending activity', async () => {
    const text = await bodyText();
    return text.includes('order_held:1') && text.includes('runWebhook');
  }, 30_000, 250).catch(async (err: unknown) => {
    await page.screenshot({ path: screenshotPath('event-pending-activities'), fullPage: true });
    throw err;
  });
  await page.screenshot({ path: screenshotPath('event-pending-activities'), fullPage: true });

  await page.goto(await runUrl(id, 'call-stack'));
  await page.getByText(/at runAction \(.*process-change-event\.ts:\d+:\d+\)/).first().waitFor();
  await page.getByText(/at processChangeEvent \(/).first().waitFor();
  await page.screenshot({ path: screenshotPath('event-call-stack'), fullPage: true });
});

it('shows a failed (dead-letter) run with its failure', async () => {
  await page.goto(await runUrl(f.runs.deadLetter));
  await page.getByRole('heading', { name: f.runs.deadLetter }).waitFor();
  await page.getByText('Failed', { exact: true }).first().waitFor();
  await waitFor('the failure on the page', async () => /1 of 1 action failed: order_paid:0 \(HttpClientError: http:\/\/127\.0\.0\.1:\d+\/reject\/[0-9a-f-]{36} answered 400/.test(await bodyText()), 30_000, 250);
  await page.screenshot({ path: screenshotPath('dead-letter'), fullPage: true });
});

it('made no failing API call while a person looked around', () => {
  expect(apiErrors).toEqual([]);
});
