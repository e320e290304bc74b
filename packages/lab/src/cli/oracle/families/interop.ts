/**
 * Oracle family 11 (`interop.json`): safetensors files written from PyTorch state dicts, and
 * malformed files a reader must refuse (packages/lab/oracle/README.md, family 11).
 *
 * A valid case decodes `config.file_base64` with decodeSafetensors (every `tensor/<name>` is a
 * decoded tensor: F32/F64 as stored, I64 as int32), builds the layer spec's model in the run's
 * dtype, loads the file into it with loadSafetensors (strict: the spec's names are the
 * state_dict keys, and gradscope's Sequential names its layers the same way) and runs `inputs.x`
 * through it in eval mode (`out`). A malformed case must be refused with a ValueError: that
 * gives `error: true`; any other exception is a crash, and fails the case.
 */
import { BatchNorm1d, BatchNorm2d, Conv2d, Flatten, type FloatDType, Linear, MaxPool2d, type Module, ReLU, Sequential, Tanh, ValueError } from 'gradscope';
import { decodeSafetensors, loadSafetensors } from 'gradscope/io';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';

type Layer = Record<string, any>;

const BUILDERS: Record<string, (l: Layer, dtype: FloatDType) => Module> = {
  linear: (l, dtype) => new Linear(l.in_features, l.out_features, { seed: 0, dtype, bias: l.bias !== null }),
  conv2d: (l, dtype) =>
    new Conv2d(l.in_channels, l.out_channels, l.kernel_size, { seed: 0, dtype, bias: l.bias !== null, stride: l.stride, padding: l.padding, dilation: l.dilation, groups: l.groups }),
  batch_norm1d: (l, dtype) => new BatchNorm1d(l.num_features, { dtype, momentum: l.momentum, eps: l.eps }),
  batch_norm2d: (l, dtype) => new BatchNorm2d(l.num_features, { dtype, momentum: l.momentum, eps: l.eps }),
  relu: () => new ReLU(),
  tanh: () => new Tanh(),
  max_pool2d: (l) => new MaxPool2d(l.kernel_size, { stride: l.stride, padding: l.padding }),
  flatten: () => new Flatten(),
};

/** The file of a case as bytes (standard base64). */
function fileOf(c: OracleCase): Uint8Array {
  return Uint8Array.from(Buffer.from(c.config.file_base64 as string, 'base64'));
}

export const interopFamily: Family = {
  missing(c: OracleCase): string | null {
    if (c.config.format !== 'safetensors') return `format ${c.config.format}`;
    if (typeof c.config.file_base64 !== 'string') return 'config.file_base64';
    for (const l of (c.config.layers ?? []) as Layer[]) if (!Object.hasOwn(BUILDERS, l.type)) return `layer ${l.type}`;
    return null;
  },

  run(c: OracleCase, dtype: FloatDType): Results {
    const bytes = fileOf(c);
    const what = `oracle interop/${c.name}`;
    let tensors;
    try {
      tensors = decodeSafetensors(bytes, { what }).tensors;
    } catch (e) {
      // A clean refusal is a ValueError; anything else (RangeError, TypeError) is a crash.
      if (e instanceof ValueError) return { error: true };
      throw e;
    }
    // `error` is a JSON boolean in this family (README, "two exceptions").
    const results: Results = { error: false };
    if (c.config.layers === undefined) return results;
    for (const [name, t] of tensors) results[`tensor/${name}`] = t;

    const model = new Sequential(...(c.config.layers as Layer[]).map((l) => BUILDERS[l.type]!(l, dtype)));
    loadSafetensors(model, bytes);
    model.eval();
    results.out = model.forward(toTensor(inputOf(c, 'x'), dtype)).detach();
    return results;
  },
};
