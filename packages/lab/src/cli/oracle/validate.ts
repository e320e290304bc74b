/**
 * Schema check of an oracle family file (packages/lab/oracle/README.md) before anything runs.
 *
 * The oracle is correctness evidence, so a malformed file must never count as a pass: a case
 * with `"expected": {}` compares nothing, a tensor whose `data` is shorter than its `shape`
 * compares only the values given, a typo in a key is silently ignored, and a family name the
 * runner does not know would be skipped. Every such file is refused here with a message that
 * names the file, the case and the field, saying what was expected and what was given.
 *
 * Objects from JSON.parse inherit Object.prototype, so `'constructor' in config` is true; all
 * key checks here (and the lookups in format.ts) use own properties only.
 */
import { ValueError } from 'gradscope';
import { FAMILY_NAMES, type FamilyName, type OracleCase, type OracleTensor } from './format.js';
import { checkTransformsCase } from './validate-transforms.js';
import { describe, isRecord, type Fail } from './validate-common.js';

/** The keys every case has, no more (README "File layout"). */
const CASE_KEYS = ['name', 'family', 'dtype', 'config', 'inputs', 'params', 'expected', 'rtol', 'atol'] as const;
const TENSOR_KEYS = new Set(['shape', 'data', 'dtype']);

/** Keys shared by the three model families (README "Models (families 4-6)"). */
const MODEL_KEYS = [
  'model', 'layers', 'loss', 'num_classes', 'input_shape_per_sample', 'param_order', 'param_shapes', 'num_params',
  'buffer_order', 'has_batchnorm', 'batch_size',
];

interface ConfigSchema {
  /** Every config key the family reads or documents; any other key is refused (a typo would be ignored). */
  allowed: ReadonlySet<string>;
  /** Keys without which the case cannot mean anything. */
  required: readonly string[];
  /** The documented values of `config.op`, for the families that have one. */
  ops?: ReadonlySet<string>;
}

const SCHEMAS: ReadonlyMap<FamilyName, ConfigSchema> = new Map<FamilyName, ConfigSchema>([
  [
    'ops',
    {
      allowed: new Set(['op', 'operands', 'alpha', 'beta', 'threshold', 'exponent', 'dim', 'keepdim', 'shape', 'dim0', 'dim1', 'dims', 'slices', 'reduction']),
      required: ['op', 'operands'],
      ops: new Set([
        'add', 'sub', 'mul', 'div', 'pow', 'pow_scalar', 'neg', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'abs', 'elu',
        'softplus', 'sum', 'mean', 'max', 'min', 'reshape', 'transpose', 'permute', 'slice', 'concat', 'matmul', 'logsumexp',
        'softmax', 'log_softmax', 'cross_entropy', 'mse_loss',
      ]),
    },
  ],
  [
    'conv_pool',
    {
      allowed: new Set(['op', 'stride', 'padding', 'dilation', 'groups', 'bias', 'kernel_size', 'ceil_mode', 'count_include_pad', 'divisor_override']),
      required: ['op'],
      ops: new Set(['conv2d', 'max_pool2d', 'avg_pool2d']),
    },
  ],
  [
    'batchnorm',
    {
      allowed: new Set(['op', 'training', 'affine', 'momentum', 'eps']),
      required: ['op', 'training', 'affine', 'momentum', 'eps'],
      ops: new Set(['batch_norm1d', 'batch_norm2d']),
    },
  ],
  [
    'models',
    {
      allowed: new Set([...MODEL_KEYS, 'loss_batchnorm_mode', 'per_sample_batchnorm_mode', 'jacobian_batchnorm_mode']),
      required: ['layers', 'loss', 'param_order'],
    },
  ],
  [
    'second_order',
    {
      allowed: new Set([...MODEL_KEYS, 'batchnorm_mode', 'num_hvp', 'full_hessian_metrics', 'stores_full_hessian']),
      required: ['layers', 'loss', 'param_order'],
    },
  ],
  [
    'optimizers',
    {
      allowed: new Set([...MODEL_KEYS, 'optimizer', 'hyper', 'epochs', 'num_steps', 'dataset_size']),
      required: ['layers', 'loss', 'param_order', 'optimizer', 'hyper', 'epochs'],
    },
  ],
  [
    'transforms',
    {
      allowed: new Set(['program', 'transform', 'args', 'result', 'derivative_order', 'note']),
      required: ['program', 'transform', 'args', 'result', 'derivative_order'],
    },
  ],
  [
    'ops_ext',
    {
      allowed: new Set([
        'op', 'operands', 'no_grad', 'approximate', 'beta', 'delta', 'dim', 'equation', 'ignore_index', 'keepdim',
        'label_smoothing', 'log_target', 'max_val', 'min_val', 'negative_slope', 'ord', 'pos_weight', 'reduction', 'weight',
      ]),
      required: ['op', 'operands', 'no_grad'],
      ops: new Set([
        'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'erf', 'erfc', 'log1p', 'expm1',
        'reciprocal', 'rsqrt', 'square', 'sign', 'floor', 'ceil', 'round', 'gelu', 'silu', 'mish', 'log_sigmoid', 'softsign',
        'leaky_relu', 'hardtanh', 'atan2', 'cumsum', 'logcumsumexp', 'cumprod', 'prod', 'norm', 'einsum', 'nll_loss', 'cross_entropy', 'binary_cross_entropy',
        'binary_cross_entropy_with_logits', 'kl_div', 'huber_loss', 'smooth_l1_loss',
      ]),
    },
  ],
  [
    'layers_ext',
    {
      allowed: new Set([
        'op', 'activation', 'affine', 'average_attn_weights', 'batch_first', 'bias', 'causal', 'd_model', 'dilation',
        'dim_feedforward', 'dropout', 'embed_dim', 'embedding_dim', 'eps', 'groups', 'key_padding_mask', 'layer_norm_eps',
        'need_weights', 'nhead', 'norm_first', 'normalized_shape', 'num_channels', 'num_embeddings', 'num_groups', 'num_heads',
        'num_params', 'out_channels', 'output_padding', 'padding', 'padding_idx', 'param_names', 'param_order', 'param_shapes',
        'scale', 'self_attention', 'stride',
      ]),
      required: ['op'],
      ops: new Set([
        'layer_norm', 'group_norm', 'embedding', 'conv1d', 'conv_transpose2d', 'sdpa', 'multihead_attention',
        'transformer_encoder_block',
      ]),
    },
  ],
  [
    'optimizers_ext',
    {
      allowed: new Set([...MODEL_KEYS, 'optimizer', 'hyper', 'epochs', 'num_steps', 'dataset_size', 'clip', 'state_keys']),
      required: ['layers', 'loss', 'param_order', 'optimizer', 'hyper', 'epochs', 'clip', 'state_keys'],
    },
  ],
  [
    'interop',
    {
      allowed: new Set([
        'format', 'file_base64', 'file_size', 'defect', 'description', 'header_length', 'dtype', 'layout',
        'header_keys_shuffled', 'metadata', 'tensor_index', 'model', 'layers', 'state_dict_order', 'param_order',
        'buffer_order', 'input_shape_per_sample', 'num_classes', 'batchnorm_mode',
      ]),
      required: ['format', 'file_base64', 'file_size'],
    },
  ],
]);



/** A family name from a file's or case's text, without prototype lookups. */
export function isFamilyName(name: unknown): name is FamilyName {
  return typeof name === 'string' && (FAMILY_NAMES as readonly string[]).includes(name);
}

function checkTensor(v: unknown, field: string, fail: Fail): OracleTensor {
  if (!isRecord(v)) fail(field, `expected a tensor {shape, data}; got ${describe(v)}`);
  for (const k of Object.keys(v)) if (!TENSOR_KEYS.has(k)) fail(`${field}.${k}`, `unknown key (a tensor has only shape, data and dtype)`);
  const { shape, data, dtype } = v;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${field}.shape`, `expected a list of non-negative integers; got ${describe(shape)}`);
  }
  if (!Array.isArray(data)) fail(`${field}.data`, `expected a list of numbers; got ${describe(data)}`);
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  // The length check is what stops a truncated tensor from passing on the values it kept.
  if (data.length !== size) fail(`${field}.data`, `has ${data.length} values but shape [${shape}] needs ${size}`);
  if (dtype !== undefined && dtype !== 'int64') fail(`${field}.dtype`, `expected "int64" or no dtype (float64); got ${describe(dtype)}`);
  data.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) fail(`${field}.data[${i}]`, `expected a finite number; got ${describe(x)}`);
    if (dtype === 'int64' && !Number.isInteger(x)) fail(`${field}.data[${i}]`, `expected an integer (dtype int64); got ${x}`);
  });
  return v as unknown as OracleTensor;
}

function checkTensors(v: unknown, field: string, fail: Fail, allowNumbers: boolean, allowBooleans = false): void {
  if (!isRecord(v)) fail(field, `expected an object of named tensors; got ${describe(v)}`);
  for (const [k, t] of Object.entries(v)) {
    if (allowBooleans && k === 'error') {
      if (typeof t !== 'boolean') fail(`${field}.${k}`, `expected true or false (is the file refused?); got ${describe(t)}`);
    } else if (allowNumbers && typeof t === 'number') {
      if (!Number.isFinite(t)) fail(`${field}.${k}`, `expected a finite number; got ${t}`);
    } else {
      checkTensor(t, `${field}.${k}`, fail);
    }
  }
}

function checkConfig(c: Record<string, unknown>, family: FamilyName, fail: Fail): void {
  const config = c.config;
  if (!isRecord(config)) fail('config', `expected an object; got ${describe(config)}`);
  const schema = SCHEMAS.get(family)!;
  for (const k of Object.keys(config)) {
    if (!schema.allowed.has(k)) fail(`config.${k}`, `unknown key for family ${family}; expected one of ${[...schema.allowed].join(', ')}`);
  }
  for (const k of schema.required) if (!Object.hasOwn(config, k)) fail(`config.${k}`, `missing (family ${family} needs it)`);
  if (schema.ops && !(typeof config.op === 'string' && schema.ops.has(config.op))) {
    fail('config.op', `unknown op ${describe(config.op)} for family ${family}; expected one of ${[...schema.ops].join(', ')}`);
  }
  // The operands are the op's inputs; anything else in `inputs` besides the cotangent (and, for
  // ops_ext, the HVP directions) is unused.
  if (family === 'ops' || family === 'ops_ext') checkOperands(c, fail, { noGrad: family === 'ops_ext' });
  if (family === 'conv_pool' || family === 'batchnorm') {
    // Exactly the documented parameters: an extra one would be differentiated and go unchecked.
    const wanted =
      family === 'conv_pool' ? (config.op === 'conv2d' ? (config.bias ? ['weight', 'bias'] : ['weight']) : []) : config.affine ? ['weight', 'bias'] : [];
    const have = Object.keys(c.params as object);
    for (const k of have) if (!wanted.includes(k)) fail(`params.${k}`, `unknown parameter; expected ${wanted.length ? wanted.join(', ') : 'none'} for ${describe(config.op)}`);
    for (const k of wanted) if (!have.includes(k)) fail(`params.${k}`, 'missing');
  }
  // A program, a transform expression and a result layout: checked in validate-transforms.ts.
  if (family === 'transforms') checkTransformsCase(c, fail);
  if (Object.hasOwn(config, 'layers') && !Array.isArray(config.layers)) fail('config.layers', `expected a list of layers; got ${describe(config.layers)}`);
  // interop's param_order names the tensors inside its file, not case params (it has none).
  if (family !== 'interop' && Object.hasOwn(config, 'param_order')) {
    const order = config.param_order;
    if (!Array.isArray(order) || !order.every((n) => typeof n === 'string')) fail('config.param_order', `expected a list of names; got ${describe(order)}`);
    const params = c.params as Record<string, unknown>;
    for (const n of order as string[]) if (!Object.hasOwn(params, n)) fail('config.param_order', `names '${n}', which is not in params`);
    for (const k of Object.keys(params)) if (!(order as string[]).includes(k)) fail(`params.${k}`, `unknown parameter (not in config.param_order)`);
  }
}

/**
 * The operands of `ops` and `ops_ext` (README "Family 1", "Family 8"): `config.operands` names
 * inputs, and nothing else but the cotangent is in `inputs`. With `noGrad` (ops_ext),
 * `config.no_grad` names float operands that get no gradient, and every other float operand
 * has a direction `v_<name>` for the HVP.
 */
function checkOperands(c: Record<string, unknown>, fail: Fail, { noGrad }: { noGrad: boolean }): void {
  const config = c.config as Record<string, unknown>;
  const inputs = c.inputs as Record<string, OracleTensor>;
  const operands = config.operands;
  const names = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === 'string');
  if (!names(operands) || operands.length === 0) fail('config.operands', `expected a non-empty list of input names; got ${describe(operands)}`);
  let skipped: string[] = [];
  if (noGrad) {
    const given = config.no_grad;
    if (!names(given)) fail('config.no_grad', `expected a list of operand names; got ${describe(given)}`);
    skipped = given;
  }
  for (const n of operands) if (!Object.hasOwn(inputs, n)) fail('config.operands', `names '${n}', which is not in inputs`);
  for (const n of skipped) if (!operands.includes(n)) fail('config.no_grad', `names '${n}', which is not an operand`);
  const directions = noGrad ? operands.filter((n) => inputs[n]!.dtype !== 'int64' && !skipped.includes(n)).map((n) => `v_${n}`) : [];
  const allowed = new Set(['cotangent', ...operands, ...directions]);
  const known = noGrad ? 'not an operand, a direction v_<operand> or the cotangent' : 'not an operand or the cotangent';
  for (const k of Object.keys(inputs)) if (!allowed.has(k)) fail(`inputs.${k}`, `unknown input (${known})`);
  if (!Object.hasOwn(inputs, 'cotangent')) fail('inputs.cotangent', noGrad ? 'missing' : 'missing (every grad_<operand> is a product with it)');
  for (const k of directions) if (!Object.hasOwn(inputs, k)) fail(`inputs.${k}`, 'missing');
}

/**
 * Parse and check the text of `<dir>/<family>.json`. Throws a ValueError naming `file` (and
 * the case and field) for invalid JSON, an empty file, or any case that breaks the format.
 */
export function parseOracleFile(text: string, file: string, family: FamilyName): OracleCase[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ValueError(`oracle: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new ValueError(`oracle: ${file}: expected a JSON array of cases; got ${describe(parsed)}`);
  if (parsed.length === 0) throw new ValueError(`oracle: ${file}: the array has no cases (an empty file is not evidence)`);
  const names = new Set<string>();
  parsed.forEach((raw, i) => {
    const label = isRecord(raw) && typeof raw.name === 'string' ? `case ${i} ('${raw.name}')` : `case ${i}`;
    const fail: Fail = (field, message) => {
      throw new ValueError(`oracle: ${file}: ${label}: ${field}: ${message}`);
    };
    if (!isRecord(raw)) throw new ValueError(`oracle: ${file}: ${label}: expected an object; got ${describe(raw)}`);
    for (const k of Object.keys(raw)) if (!(CASE_KEYS as readonly string[]).includes(k)) fail(k, `unknown key; a case has exactly ${CASE_KEYS.join(', ')}`);
    for (const k of CASE_KEYS) if (!Object.hasOwn(raw, k)) fail(k, 'missing');
    if (typeof raw.name !== 'string' || raw.name === '') fail('name', `expected a non-empty string; got ${describe(raw.name)}`);
    if (names.has(raw.name as string)) fail('name', 'appears twice in the file (names are unique)');
    names.add(raw.name as string);
    if (!isFamilyName(raw.family)) fail('family', `unknown family ${describe(raw.family)}; expected one of ${FAMILY_NAMES.join(', ')}`);
    if (raw.family !== family) fail('family', `is ${describe(raw.family)} but the file is ${family}.json`);
    if (raw.dtype !== 'float64') fail('dtype', `expected "float64"; got ${describe(raw.dtype)}`);
    for (const k of ['rtol', 'atol'] as const) {
      const t = raw[k];
      if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) fail(k, `expected a finite number >= 0; got ${describe(t)}`);
    }
    checkTensors(raw.inputs, 'inputs', fail, false);
    checkTensors(raw.params, 'params', fail, false);
    // Only interop's `error` (was the file refused?) is a boolean.
    checkTensors(raw.expected, 'expected', fail, true, raw.family === 'interop');
    if (Object.keys(raw.expected as object).length === 0) fail('expected', 'is empty: a case must expect at least one value');
    checkConfig(raw, family, fail);
  });
  return parsed as OracleCase[];
}
