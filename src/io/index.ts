/**
 * gradscope's file-system helpers (Node only; import from 'gradscope/io'): model files,
 * training checkpoints, atomic writes; and weights interop with PyTorch: safetensors files and
 * state dicts (encodeSafetensors, decodeSafetensors, stateDict and loadStateDict use no file
 * system, so a bundler can take them alone into a browser build).
 * @module
 */
export { loadModel, loadSafetensors, readModelFile, readSafetensors, saveModel, saveSafetensors } from './model-file.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensorsHeader,
  SAFETENSORS_DTYPES,
  SAFETENSORS_ITEM_SIZE,
  SAFETENSORS_MAX_HEADER_BYTES,
  type DecodeSafetensorsOptions,
  type EncodeSafetensorsOptions,
  type SafetensorsContents,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type TensorDict,
} from './safetensors.js';
export { loadStateDict, stateDict, type LoadStateDictOptions, type LoadStateDictResult } from './state-dict.js';
export { fileCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint-file.js';
export { writeFileAtomic } from './atomic.js';
export { encodeJson, openSealedJson, sealJson, type SealedHeader } from './sealed-json.js';
