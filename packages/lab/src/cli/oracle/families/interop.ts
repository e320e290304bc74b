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
import { type FloatDType, ValueError } from 'gradscope';
import { decodeSafetensors, loadSafetensors } from 'gradscope/io';
import { inputOf, toTensor, type Family, type OracleCase, type Results } from '../format.js';
import { sequence, unknownLayer } from './model-spec.js';

type Layer = Record<string, any>;

/** The file of a case as bytes (standard base64). */
function fileOf(c: OracleCase): Uint8Array {
  return Uint8Array.from(Buffer.from(c.config.file_base64 as string, 'base64'));
}

export const interopFamily: Family = {
  missing(c: OracleCase): string | null {
    if (c.config.format !== 'safetensors') return `format ${c.config.format}`;
    if (typeof c.config.file_base64 !== 'string') return 'config.file_base64';
    return unknownLayer((c.config.layers ?? []) as Layer[]);
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

    const model = sequence(c.config.layers as Layer[], dtype);
    loadSafetensors(model, bytes);
    model.eval();
    results.out = model.forward(toTensor(inputOf(c, 'x'), dtype)).detach();
    return results;
  },
};
