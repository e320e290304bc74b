/**
 * Malformed golden files must never count as evidence (issue 14, D2): each one is refused
 * with a message naming the file, or its case fails; none passes and none exits 0.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { oracleCommand } from '../packages/lab/src/cli/commands/oracle.js';
import { compare } from '../packages/lab/src/cli/oracle/compare.js';
import type { FamilyName, OracleCase } from '../packages/lab/src/cli/oracle/format.js';
import { parseOracleFile } from '../packages/lab/src/cli/oracle/validate.js';
import { runCase } from '../packages/lab/src/cli/oracle/runner.js';
import { tensor } from '../src/tensor/creation.js';

const golden = fileURLToPath(new URL('../packages/lab/oracle/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gradscope-oracle-bad-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const load = (family: string): any[] => JSON.parse(readFileSync(join(golden, `${family}.json`), 'utf8'));
/** The first ops case (add, same shapes: out, grad_a, grad_b of shape [3,2]). */
const addCase = (): any => structuredClone(load('ops')[0]);

let n = 0;
/** Write `text` as <fresh dir>/<family>.json and run the command on that folder. */
function run(content: unknown, family = 'ops'): { code: number; lines: string[] } {
  const dir = join(tmp, `case-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, `${family}.json`), typeof content === 'string' ? content : JSON.stringify(content));
  const lines: string[] = [];
  const code = oracleCommand({ dir, dtype: 'float64' }, (l) => lines.push(l));
  return { code, lines };
}

describe('oracle: malformed golden files are refused, never passed', () => {
  it('refuses an empty expectation, naming the file and the case', () => {
    const c = addCase();
    c.expected = {};
    expect(() => run([c])).toThrow(/ops\.json: case 0 \('add_same_shape'\): expected: is empty/);
  });

  it('refuses a tensor whose data is shorter than its shape', () => {
    const c = addCase();
    c.expected.out.data = c.expected.out.data.slice(0, 1);
    expect(() => run([c])).toThrow(/ops\.json.*expected\.out\.data: has 1 values but shape \[3,2\] needs 6/);
  });

  it('fails a case that drops one of the values the computation produces', () => {
    expect(run([addCase()]).lines.at(-1)).toBe('1 passed, 0 failed, 0 skipped'); // the fixture itself is sound
    const c = addCase();
    delete c.expected.grad_b;
    const { code, lines } = run([c]);
    expect(code).toBe(1);
    expect(lines.some((l) => l.includes('grad_b') && l.includes('no expected value'))).toBe(true);
  });

  it('refuses [{}], an empty array and a non-array', () => {
    expect(() => run([{}])).toThrow(/ops\.json: case 0: .*missing/);
    expect(() => run([])).toThrow(/ops\.json: the array has no cases/);
    expect(() => run({ cases: [] })).toThrow(/ops\.json: expected a JSON array/);
  });

  it('refuses an unknown family, and a family that is not the file', () => {
    const c = addCase();
    c.family = 'nope';
    expect(() => run([c])).toThrow(/ops\.json.*family: unknown family "nope"/);
    const d = addCase();
    d.family = 'batchnorm';
    expect(() => run([d])).toThrow(/ops\.json.*family: is "batchnorm" but the file is ops\.json/);
  });

  it('names the file when the JSON does not parse', () => {
    expect(() => run('[{"name": ')).toThrow(/oracle: .*case-\d+\/ops\.json is not valid JSON/);
  });

  it('does not find ops or inputs through Object.prototype', () => {
    const c = addCase();
    c.config.op = 'constructor';
    expect(() => run([c])).toThrow(/config\.op: unknown op "constructor"/);
    const d = addCase();
    d.config.operands = ['a', 'toString'];
    expect(() => run([d])).toThrow(/config\.operands: names 'toString', which is not in inputs/);
    const r = runCase({ ...addCase(), family: 'constructor' } as OracleCase, 'float64');
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/unknown family "constructor"/);
  });

  it('refuses unknown keys in a case, a tensor and a config', () => {
    const a = addCase();
    a.expcted = {};
    expect(() => run([a])).toThrow(/expcted: unknown key/);
    const b = addCase();
    b.expected.out.dtyp = 'int64';
    expect(() => run([b])).toThrow(/expected\.out\.dtyp: unknown key/);
    const c = addCase();
    c.config.keep_dim = true;
    expect(() => run([c])).toThrow(/config\.keep_dim: unknown key for family ops/);
    const d = addCase();
    d.inputs.extra = { shape: [], data: [1] };
    expect(() => run([d])).toThrow(/inputs\.extra: unknown input/);
  });

  it('refuses non-finite or non-integer values and bad tolerances', () => {
    const a = addCase();
    a.expected.out.data[2] = 'x';
    expect(() => run([a])).toThrow(/expected\.out\.data\[2\]: expected a finite number/);
    const b = addCase();
    b.rtol = -1;
    expect(() => run([b])).toThrow(/rtol: expected a finite number >= 0/);
  });

  it('refuses a parameter a conv2d case does not use', () => {
    const c = structuredClone(load('conv_pool').find((x) => x.config.op === 'conv2d' && x.config.bias === false));
    c.params.bias = { shape: [c.params.weight.shape[0]], data: new Array(c.params.weight.shape[0]).fill(0) };
    expect(() => run([c], 'conv_pool')).toThrow(/params\.bias: unknown parameter/);
  });
});

describe('oracle: the families of issue 18 are checked before anything runs', () => {
  const first = (family: string): any => structuredClone(load(family)[0]);

  it('every bundled file of the new families passes the schema', () => {
    for (const family of ['ops_ext', 'layers_ext', 'optimizers_ext', 'interop']) {
      expect(() => parseOracleFile(readFileSync(join(golden, `${family}.json`), 'utf8'), `${family}.json`, family as FamilyName)).not.toThrow();
    }
  });

  it('refuses an ops_ext case without the HVP direction of a differentiable operand', () => {
    const c = first('ops_ext');
    delete c.inputs.v_x;
    expect(() => run([c], 'ops_ext')).toThrow(/ops_ext\.json.*inputs\.v_x: missing/);
  });

  it('refuses an ops_ext input that is neither an operand, a direction nor the cotangent', () => {
    const c = first('ops_ext');
    c.inputs.y = c.inputs.x;
    expect(() => run([c], 'ops_ext')).toThrow(/inputs\.y: unknown input/);
  });

  it('refuses a no_grad entry that is not an operand, and an unknown op', () => {
    const c = first('ops_ext');
    c.config.no_grad = ['weight'];
    expect(() => run([c], 'ops_ext')).toThrow(/config\.no_grad: names 'weight', which is not an operand/);
    const d = first('ops_ext');
    d.config.op = 'sine';
    expect(() => run([d], 'ops_ext')).toThrow(/config\.op: unknown op "sine"/);
  });

  it('accepts a boolean only as interop\'s expected error', () => {
    const c = first('interop');
    c.expected.error = 'no';
    expect(() => run([c], 'interop')).toThrow(/interop\.json.*expected\.error: expected true or false/);
    const d = first('ops_ext');
    d.expected.error = false;
    expect(() => run([d], 'ops_ext')).toThrow(/ops_ext\.json.*expected\.error: expected a tensor/);
  });
});

describe('oracle compare', () => {
  it('a boolean matches only the same boolean', () => {
    expect(compare(true, true, 0, 0).ok).toBe(true);
    expect(compare(false, true, 0, 0).ok).toBe(false);
    expect(compare(1, true, 0, 0).ok).toBe(false);
  });

  it('a plain number matches a scalar, not a tensor with dimensions', () => {
    expect(compare(1, { shape: [1], data: [1] }, 0, 0).ok).toBe(false);
    expect(compare(1, { shape: [], data: [1] }, 0, 0).ok).toBe(true);
  });

  it('the value counts must agree, not only the values given', () => {
    const t = tensor([1, 2, 3], { dtype: 'float64' });
    expect(compare(t, { shape: [3], data: [1] }, 0, 0).ok).toBe(false);
  });
});
