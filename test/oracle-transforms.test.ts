/**
 * The `transforms` oracle family (packages/lab/oracle/README.md, family 7) through the same runner as
 * `gradscope oracle`: every case must pass, a corrupted expected value must fail, and a file that
 * breaks the family's format (program, transform expression, result keys, tolerance) is refused
 * with a message naming the file, the case and the field — never run, never passed.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { oracleCommand } from '../packages/lab/src/cli/commands/oracle.js';
import type { OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import { runCase } from '../packages/lab/src/cli/oracle/runner.js';

const golden = fileURLToPath(new URL('../packages/lab/oracle/', import.meta.url));
const cases = JSON.parse(readFileSync(join(golden, 'transforms.json'), 'utf8')) as any[];
const caseNamed = (name: string): any => structuredClone(cases.find((c) => c.name === name));

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-oracle-transforms-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** Write the cases as <fresh dir>/transforms.json and run the command on that folder. */
function run(content: unknown, dtype: 'float64' | 'float32' = 'float64'): { code: number; lines: string[] } {
  const dir = join(tmp, `case-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'transforms.json'), JSON.stringify(content));
  const lines: string[] = [];
  const code = oracleCommand({ dir, dtype }, (l) => lines.push(l));
  return { code, lines };
}

describe('oracle transforms: the golden file', () => {
  it('has the 45 documented cases, each checked (none skipped)', () => {
    expect(cases).toHaveLength(45);
    const lines: string[] = [];
    const code = oracleCommand({ dir: golden, dtype: 'float64', family: 'transforms' }, (l) => lines.push(l));
    expect(lines.at(-1)).toMatch(/^\d+ passed, \d+ failed, 0 skipped$/);
    // Every case passes once the engine has every transform and rule; a failure names its case.
    expect(lines.filter((l) => l.startsWith('FAIL')), lines.join('\n')).toEqual([]);
    expect(code).toBe(0);
  });

  it('runs every case on its own through runCase (oracle.test.ts lists them one by one)', () => {
    const results = cases.map((c) => runCase(c as OracleCase, 'float64'));
    expect(results.filter((r) => r.status === 'skipped')).toEqual([]);
    const failed = results.filter((r) => r.status !== 'passed').map((r) => `${r.name}: ${r.reason?.split('\n')[0] ?? JSON.stringify(r.failures)}`);
    expect(failed, failed.join('\n')).toEqual([]);
  });
});

describe('oracle transforms: a wrong expected value fails', () => {
  // Cases that need only vmap, grad and forward mode (no pytree arguments, no jacobians).
  it.each([
    ['vmap_nested_pairwise', 'out', 1e-6],
    ['per_sample_grad_moved_axis2_transpose', 'out', 1e-6],
    ['per_sample_hvp', 'out/1', 1e-5], // order 2: tolerance 1e-7 relative
    ['vjp_nonscalar', 'out/1/1', 1e-6],
  ] as const)('%s: %s perturbed by a relative %s', (name, key, relative) => {
    expect(run([caseNamed(name)]).lines.at(-1)).toBe('1 passed, 0 failed, 0 skipped'); // the fixture itself is sound
    const c = caseNamed(name);
    const data: number[] = c.expected[key].data;
    data[data.length - 1] = data[data.length - 1]! * (1 + relative) + relative;
    const { code, lines } = run([c]);
    expect(code).toBe(1);
    expect(lines.some((l) => l.startsWith(`FAIL transforms/${name} ${key}: max abs err`)), lines.join('\n')).toBe(true);
    expect(lines.at(-1)).toBe('0 passed, 1 failed, 0 skipped');
  });

  it('float32 runs use the float32 tolerances, and still catch an error above them', () => {
    expect(run([caseNamed('per_sample_grad_linear_mse')], 'float32').lines.at(-1)).toBe('1 passed, 0 failed, 0 skipped');
    const c = caseNamed('per_sample_grad_linear_mse');
    c.expected.out.data[0] += 1e-2;
    const r = run([c], 'float32');
    expect(r.code).toBe(1);
    expect(r.lines.some((l) => l.startsWith('FAIL transforms/per_sample_grad_linear_mse out: max abs err'))).toBe(true);
  });
});

describe('oracle transforms: a malformed case is refused, never run', () => {
  const refuse = (edit: (c: any) => void, message: RegExp, name = 'vmap_nested_pairwise') => {
    const c = caseNamed(name);
    edit(c);
    expect(() => run([c])).toThrow(message);
  };

  it('names the file, the case and the field', () => {
    refuse((c) => (c.config.program.nodes[0].op = 'relu'), /transforms\.json: case 0 \('vmap_nested_pairwise'\): config\.program\.nodes\[0\]\.op: unknown op "relu"/);
  });

  it('refuses unknown and missing node attributes, and bad attribute values', () => {
    refuse((c) => (c.config.program.nodes[2].keep_dim = false), /nodes\[2\]\.keep_dim: unknown key for op sum/);
    refuse((c) => delete c.config.program.nodes[2].keepdim, /nodes\[2\]\.keepdim: missing/);
    refuse((c) => (c.config.program.nodes[2].dim = 0), /nodes\[2\]\.dim: expected null or a list of integers/);
    refuse((c) => (c.config.program.nodes[0].op = 'constructor'), /unknown op "constructor"/);
  });

  it('refuses a name used before it is bound, a rebinding, and a result nobody binds', () => {
    refuse((c) => (c.config.program.nodes[0].args = ['x', 't3']), /nodes\[0\]\.args\[1\]: expected a name bound before this node/);
    refuse((c) => (c.config.program.nodes[1].id = 'x'), /nodes\[1\]\.id: the name 'x' is already bound/);
    refuse((c) => (c.config.program.result = 't9'), /config\.program\.result: names 't9'/);
    refuse((c) => (c.config.program.nodes[1].args = ['t1']), /nodes\[1\]\.args: expected 2 arguments for mul/);
  });

  it('refuses unknown transforms, unknown keys, and argnums or in_axes that do not fit the function', () => {
    refuse((c) => (c.config.transform.transform = 'pmap'), /config\.transform\.transform: unknown transform "pmap"/);
    refuse((c) => (c.config.transform.fn.chunk_size = 2), /config\.transform\.fn\.chunk_size: unknown key for vmap/);
    refuse((c) => (c.config.transform.in_axes = [0]), /config\.transform\.in_axes: has 1 entries but the function takes 2/);
    refuse((c) => (c.config.transform.fn.argnums = 3), /config\.transform\.fn\.argnums: expected positions 0\.\.2/, 'per_sample_grad_linear_mse');
    refuse((c) => (c.config.transform.argnums = 0), /config\.transform\.argnums: expected a non-empty list/, 'vjp_nonscalar');
  });

  it('refuses args that name a missing input, and an input no argument uses', () => {
    refuse((c) => (c.config.args = ['x', 'z']), /config\.args\[1\]: names 'z', which is not in inputs/);
    refuse((c) => (c.inputs.extra = { shape: [], data: [1] }), /inputs\.extra: unknown input/);
    refuse((c) => (c.config.args = ['x']), /config\.args: has 1 arguments but the transformed function takes 2/);
  });

  it('refuses result keys that break the naming rule or differ from expected', () => {
    refuse((c) => delete c.expected['out/1'], /config\.result\[1\]: names 'out\/1', which has no expected value/, 'vmap_multi_output_out_axes');
    refuse((c) => (c.expected.extra = 1), /expected\.extra: unknown key/);
    refuse((c) => (c.config.result = 'result'), /config\.result: expected the key 'out' at this place; got 'result'/);
  });

  it('refuses a derivative order that does not match the transform, and a looser tolerance', () => {
    refuse((c) => (c.config.derivative_order = 1), /config\.derivative_order: is 1 but the transform differentiates 0 times/);
    refuse((c) => (c.rtol = 1e-6), /rtol: 0\.000001 is looser than the format's 1e-8 for derivative order 0/);
    refuse((c) => (c.atol = 1e-8), /atol: 1e-8 is looser than the format's 1e-9 for derivative order 2/, 'per_sample_hvp');
  });

  it('refuses parameters (every tensor is in inputs) and integer inputs', () => {
    refuse((c) => (c.params.w = { shape: [], data: [1] }), /params\.w: unknown parameter/);
    refuse((c) => (c.inputs.x = { shape: [2, 2], dtype: 'int64', data: [1, 2, 3, 4] }), /inputs\.x\.dtype: expected a float tensor/);
  });
});
