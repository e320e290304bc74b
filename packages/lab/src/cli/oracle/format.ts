/**
 * The oracle's file format (packages/lab/oracle/README.md): cases with inputs, params and expected
 * values, tensors as `{ shape, data }` in row-major order, int64 tensors marked by dtype.
 */
import { type FloatDType, tensor, type Tensor, ValueError } from 'gradscope';

export type FamilyName =
  | 'ops'
  | 'conv_pool'
  | 'batchnorm'
  | 'models'
  | 'second_order'
  | 'optimizers'
  | 'transforms'
  | 'ops_ext'
  | 'layers_ext'
  | 'optimizers_ext'
  | 'interop';

export const FAMILY_NAMES: readonly FamilyName[] = [
  'ops', 'conv_pool', 'batchnorm', 'models', 'second_order', 'optimizers', 'transforms',
  'ops_ext', 'layers_ext', 'optimizers_ext', 'interop',
];

export interface OracleTensor {
  shape: number[];
  data: number[];
  dtype?: 'int64';
}

export interface OracleCase {
  name: string;
  family: FamilyName;
  dtype: 'float64';
  config: Record<string, any>;
  inputs: Record<string, OracleTensor>;
  params: Record<string, OracleTensor>;
  /** Tensors and scalars; `interop`'s `error` is a boolean (the file is refused or not). */
  expected: Record<string, OracleTensor | number | boolean>;
  rtol: number;
  atol: number;
}

/** A gradscope tensor from an oracle tensor: floats in `dtype`, int64 as int32. */
export function toTensor(t: OracleTensor, dtype: FloatDType): Tensor {
  if (t.dtype === 'int64') {
    for (const v of t.data) {
      if (!Number.isInteger(v) || Math.abs(v) >= 2 ** 31) throw new ValueError(`oracle: int64 value ${v} does not fit int32`);
    }
    return tensor(Int32Array.from(t.data), { shape: t.shape, dtype: 'int32' });
  }
  return tensor(Float64Array.from(t.data), { shape: t.shape, dtype });
}

/**
 * `c.inputs[name]` / `c.params[name]` as own properties only: JSON objects inherit
 * Object.prototype, so a plain index with a name like 'constructor' would find a function.
 */
export function inputOf(c: OracleCase, name: string): OracleTensor {
  return ownTensor(c, 'inputs', name);
}

export function paramOf(c: OracleCase, name: string): OracleTensor {
  return ownTensor(c, 'params', name);
}

function ownTensor(c: OracleCase, group: 'inputs' | 'params', name: string): OracleTensor {
  if (!Object.hasOwn(c[group], name)) {
    const have = Object.keys(c[group]);
    throw new ValueError(`oracle ${c.family}/${c.name}: ${group} has no '${name}'; it has ${have.length ? have.join(', ') : 'nothing'}`);
  }
  return c[group][name]!;
}

/** What a family produced for a case: tensors or plain numbers, keyed like `expected`. */
export type Results = Record<string, Tensor | number | boolean>;

/** A family: which cases it can run, and how. */
export interface Family {
  /** Null if the case can run; otherwise the name of what is missing (an op or feature). */
  missing(c: OracleCase): string | null;
  run(c: OracleCase, dtype: FloatDType): Results;
}
