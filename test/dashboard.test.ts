import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildDemo } from '../demo/server.js';
import { chromium as chromiumBinary, whenAvailable } from './requirements.js';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The little of the DOM the in-page functions below use (the project's types have no DOM lib). */
interface ChartCanvas {
  width: number;
  height: number;
  dataset: Record<string, string | undefined>;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}
declare const document: {
  querySelectorAll(selector: 'canvas'): Iterable<ChartCanvas>;
  getElementById(id: string): ChartCanvas;
};

const artifacts = fileURLToPath(new URL('./artifacts/', import.meta.url));
let scratch = '';

let demo: Awaited<ReturnType<typeof buildDemo>>;
let browser: BrowserContext;
let page: Page;
let base = '';

async function health(): Promise<{ inlineJobs: number; pool: { completed: number } }> {
  return (await (await fetch(`${base}/health`)).json()) as { inlineJobs: number; pool: { completed: number } };
}

async function burst(mode: 'offloaded' | 'inline', count: number): Promise<string> {
  await page.selectOption('#job', 'hash');
  await page.check(`input[name=mode][value=${mode}]`);
  await page.fill('#count', String(count));
  await page.click('#burst');
  await page.waitForSelector('#burst-status[data-state=done], #burst-status[data-state=failed]');
  return page.textContent('#burst-status').then((text) => text ?? '');
}

/** Pixels of the series' line colour on each chart: proof that it drew a line, not only its axes. */
function linePixels(ids: string[]): Promise<number[]> {
  return page.evaluate(
    (canvasIds) =>
      canvasIds.map((canvasId) => {
        const canvas = document.getElementById(canvasId);
        const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
          if (data[i + 3]! > 200 && data[i + 2]! > 200 && data[i]! < 140 && data[i + 1]! > 130) count++;
        }
        return count;
      }),
    ids,
  );
}

/**
 * Waits, up to 30 s, until every chart shows its line. A frame may briefly show less (one CI run
 * read a chart that had drawn 8 points with fewer than 20 line pixels, where runs show 150 to
 * 330); a chart that never draws its line fails, naming each chart's count.
 */
async function waitForLines(ids: string[]): Promise<void> {
  const until = Date.now() + 30_000;
  let counts = await linePixels(ids);
  while (counts.some((count) => count <= 20) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    counts = await linePixels(ids);
  }
  ids.forEach((id, index) => assert.ok(counts[index]! > 20, `the ${id} chart drew its line (${counts.join(', ')} line pixels on ${ids.join(', ')})`));
}

whenAvailable(chromiumBinary, 'dashboard in Chromium', () => {
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'offload-dashboard-'));
    demo = await buildDemo({ databasePath: join(scratch, 'demo.db'), poolSize: 2 });
    await demo.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(demo.app.server.address() as { port: number }).port}`;
    // A persistent context is how Playwright takes a fresh --user-data-dir of our own.
    browser = await chromium.launchPersistentContext(join(scratch, 'profile'), {
      executablePath: chromiumBinary.path,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  after(async () => {
    await browser?.close();
    await demo?.app.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('the dashboard loads, plots /health, fires offloaded and inline bursts, and draws every chart', async () => {
    const response = await page.goto(`${base}/dashboard`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), 'offload — live dashboard');
    await page.waitForFunction(() => [...document.querySelectorAll('canvas')].every((canvas) => Number(canvas.dataset.points) >= 3));

    const before = await health();
    const offloaded = await burst('offloaded', 6);
    assert.match(offloaded, /6 hash requests, offloaded: 6 done, 0 failed/);
    assert.ok((await health()).pool.completed >= before.pool.completed + 6, 'the offloaded burst ran in the pool');

    const inline = await burst('inline', 3);
    assert.match(inline, /3 hash requests, inline: 3 done, 0 failed/);
    assert.equal((await health()).inlineJobs, before.inlineJobs + 3, 'the inline burst ran on the main thread');

    // More polls after the bursts, so every chart has drawn points across them.
    const points = await page.$$eval('canvas', (canvases) => canvases.map((canvas) => Number(canvas.dataset.points)));
    await page.waitForFunction(
      (seen) => [...document.querySelectorAll('canvas')].every((canvas, index) => Number(canvas.dataset.points) > (seen[index] ?? 0)),
      points,
    );
    await waitForLines(['latency', 'delay', 'queued', 'busy']);

    // The progress bar follows a long render's progress() values to the end.
    await page.click('#render');
    await page.waitForSelector('#render-status[data-state=done], #render-status[data-state=failed]', { timeout: 60_000 });
    assert.match((await page.textContent('#render-status')) ?? '', /^Done: /);
    const bar = await page.$eval('#render-progress', (element) => {
      const progress = element as unknown as { value: number; dataset: { updates?: string } };
      return { value: progress.value, updates: Number(progress.dataset.updates) };
    });
    assert.equal(bar.value, 1);
    assert.ok(bar.updates >= 2, `the bar moved through ${bar.updates} progress values`);

    mkdirSync(artifacts, { recursive: true });
    const file = join(artifacts, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 10_000);
  });
});
