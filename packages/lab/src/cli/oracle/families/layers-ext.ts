/**
 * Oracle family 9 (`layers_ext.json`): one layer per case (packages/lab/oracle/README.md,
 * "Family 9"). Two tables run them: convolutions, embeddings and group norm in one, layer norm,
 * attention and the Transformer block in the other.
 */
import type { FloatDType } from 'gradscope';
import type { Family, OracleCase, Results } from '../format.js';
import { ATTENTION_LAYERS } from './layers-ext-attention.js';
import { CONV_LAYERS } from './layers-ext-conv.js';

const LAYERS: ReadonlyMap<string, (c: OracleCase, dtype: FloatDType) => Results> = new Map([...CONV_LAYERS, ...ATTENTION_LAYERS]);

export const layersExtFamily: Family = {
  missing: (c: OracleCase) => (LAYERS.has(c.config.op) ? null : String(c.config.op)),
  run: (c: OracleCase, dtype: FloatDType): Results => LAYERS.get(c.config.op)!(c, dtype),
};
