/**
 * gradscope's file-system helpers (Node only; import from 'gradscope/io'): model files,
 * training checkpoints, atomic writes.
 * @module
 */
export { loadModel, readModelFile, saveModel } from './model-file.js';
export { fileCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint-file.js';
export { writeFileAtomic } from './atomic.js';
export { encodeJson, openSealedJson, sealJson, type SealedHeader } from './sealed-json.js';
