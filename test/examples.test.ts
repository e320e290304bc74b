/**
 * examples/ as a user runs them: each script with node from the repository root, importing
 * 'gradscope' (the package's self-reference, resolving to the built dist/ through `exports`), as
 * cli.test.ts runs the built CLI. Each check reads a key printed number or line, so a broken
 * example fails here. The browser Worker example runs in Node with a stand-in for the worker's
 * `self`, both as written and as Vite bundles it. The scripts run concurrently (≈ 2 s in all).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const examples = join(root, 'examples');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr: stderr || (error?.message ?? '') });
    });
  });
}

/**
 * Loads a worker script in Node with a stand-in `self` (addEventListener / postMessage), posts
 * it one training request and prints every message it sent back, as JSON.
 */
const WORKER_HARNESS = `
const listeners = [];
const messages = [];
globalThis.self = { addEventListener: (type, f) => { if (type === 'message') listeners.push(f); }, postMessage: (m) => messages.push(m) };
await import(process.argv[1]);
for (const f of listeners) f({ data: { steps: 200, lr: 2 } });
console.log(JSON.stringify(messages));
`;
const runWorker = (file: string) => node(['--input-type=module', '-e', WORKER_HARNESS, pathToFileURL(file).href]);

/** The fitted line of a script's output that starts with `label`, or a failure naming the script. */
function line(run: Run, label: string): string {
  const found = run.stdout.split('\n').find((l) => l.startsWith(label));
  if (found === undefined) throw new Error(`no line starting with '${label}' in:\n${run.stdout}\n${run.stderr}`);
  return found.slice(label.length).trim();
}

const SCRIPTS = ['01-autodiff-basics.mjs', '02-custom-module.mjs', '03-per-sample-gradients.mjs', '04-hessian-spectrum.mjs', '05-svrg-vs-sgd.mjs', '06-pytorch-interop.mjs'];
const bundleDir = join(root, 'node_modules/.cache/gradscope-examples-worker');
const runs = new Map<string, Run>();

describe('examples/', () => {
  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/index.js'))) {
      throw new Error('examples.test: dist/index.js is missing: the examples import the built package; run `npm run build` first (npm test does)');
    }
    const bundle = async (): Promise<Run> => {
      const built = await node([join(root, 'node_modules/vite/bin/vite.js'), 'build', 'examples/browser-worker', '--outDir', bundleDir, '--emptyOutDir', '--logLevel', 'error']);
      if (built.code !== 0) return built;
      const worker = readdirSync(join(bundleDir, 'assets')).find((f) => /^worker.*\.js$/.test(f));
      return worker ? runWorker(join(bundleDir, 'assets', worker)) : { code: 1, stdout: '', stderr: `vite build wrote no worker chunk to ${bundleDir}/assets` };
    };
    const [scripts, worker, bundled] = await Promise.all([
      Promise.all(SCRIPTS.map((s) => node([join('examples', s)]))),
      runWorker(join(examples, 'browser-worker/worker.js')),
      bundle(),
    ]);
    SCRIPTS.forEach((s, i) => runs.set(s, scripts[i]!));
    runs.set('worker', worker);
    runs.set('bundled worker', bundled);
  }, 120_000);

  it('every script in examples/ is run here', () => {
    expect(readdirSync(examples).filter((f) => f.endsWith('.mjs')).sort()).toEqual(SCRIPTS);
  });

  it.each(SCRIPTS)('%s exits with 0 and writes nothing to stderr', (script) => {
    const r = runs.get(script)!;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('01: grad, grad of grad, jvp, vjp, vmap', () => {
    const r = runs.get('01-autodiff-basics.mjs')!;
    expect(line(r, 'grad of sum(x^3) at [1,2,3]:')).toBe('[3,12,27]');
    expect(line(r, 'd3/dt3 t^3 at 2:')).toBe('6');
    expect(line(r, 'jvp of exp:')).toBe('[2.7183,7.3891,20.0855] [2.7183,0,-20.0855]');
    expect(line(r, 'vjp of x*x with u = 1:')).toBe('[2,4,6]');
    expect(line(r, 'vmap(norm) over rows:')).toBe('[5,10,13]');
    expect(line(r, 'vmap(grad(norm)):')).toBe('[[0.6,0.8],[0.6,0.8],[0.3846,0.9231]]');
  });

  it('02: the custom Module learns the polynomial', () => {
    const r = runs.get('02-custom-module.mjs')!;
    expect(line(r, 'names:')).toBe('body.coefficients, head.weight, head.bias');
    expect(line(r, 'learned coefficients:')).toBe('[1,-2,0.5]');
  });

  it('03: perSampleGrads and vmap(grad) through functionalCall agree', () => {
    const r = runs.get('03-per-sample-gradients.mjs')!;
    expect(line(r, '0.weight:')).toBe('[6,8,4]');
    expect(line(r, 'agree:')).toBe('true');
    expect(Number(line(r, 'max |perSampleGrads - vmap(grad)| ='))).toBeLessThan(1e-12);
    expect(line(r, 'mean of rows = batch gradient of 0.weight:')).toBe('true');
  });

  it('04: Lanczos, Hutchinson and the spectral density against the exact Hessian', () => {
    const r = runs.get('04-hessian-spectrum.mjs')!;
    expect(line(r, 'parameters:')).toBe('195');
    expect(line(r, 'lanczos matches the exact lambda_max:')).toBe('true');
    expect(line(r, 'exact trace within 3 standard errors:')).toBe('true');
    const lambda = Number(line(r, 'lanczos top-3:').split(' ')[0]);
    expect(lambda).toBeCloseTo(1.4001, 3);
    const density = Number(line(r, 'spectral density:').split('%')[0]);
    const exact = Number(line(r, 'exact:').split('%')[0]);
    expect(Math.abs(density - exact)).toBeLessThan(5);
  });

  it('05: SVRG reaches a far smaller gradient than SGD with the same work', () => {
    const r = runs.get('05-svrg-vs-sgd.mjs')!;
    const gradNorm = (label: string) => Number(line(r, label).split('|grad|')[1]);
    expect(line(r, 'SVRG at least 10x nearer a stationary point than SGD with the same work:')).toBe('true');
    expect(line(r, 'SVRG ')).toMatch(/^epochs 10 {2}gradient evaluations {2}7680 /);
    expect(gradNorm('SVRG ')).toBeLessThan(gradNorm('SGD ') / 10);
  });

  it('06: sin and its derivatives, Adam on SVRG directions, a safetensors round trip', () => {
    const r = runs.get('06-pytorch-interop.mjs')!;
    expect(line(r, 'grad of sin at [0, pi/2, pi]:')).toBe('[1,0,-1]');
    expect(line(r, 'second derivative:')).toBe('[0,-1,0]');
    const [before, after] = line(r, 'training loss:').split(' -> ').map(Number);
    expect(after!).toBeLessThan(before! * 0.7);
    expect(line(r, 'tensors in the file:')).toBe('0.bias, 0.weight, 2.bias, 2.weight');
    expect(line(r, 'outputs equal after the round trip:')).toBe('true');
  });

  it.each(['worker', 'bundled worker'])('browser-worker: the %s trains and reports', (which) => {
    const r = runs.get(which)!;
    expect(r.code, r.stderr).toBe(0);
    const messages = JSON.parse(r.stdout) as { type: string; loss: number; probabilities?: number[] }[];
    expect(messages.filter((m) => m.type === 'progress')).toHaveLength(20);
    const done = messages.at(-1)!;
    expect(done.type).toBe('done');
    expect(done.loss).toBeLessThan(0.1);
    const [p00, p01, p10, p11] = done.probabilities!;
    expect(Math.max(p00!, p01!, p10!)).toBeLessThan(0.1);
    expect(p11).toBeGreaterThan(0.9);
  });
});
