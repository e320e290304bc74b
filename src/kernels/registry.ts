/**
 * Which backend runs the kernels. The CPU backend is the default; others register themselves
 * by name and are chosen with `setBackend(name)`.
 */
import { ValueError } from '../tensor/errors.js';
import type { Backend } from './backend.js';
import { cpuBackend } from './cpu/index.js';

const backends = new Map<string, Backend>([['cpu', cpuBackend]]);
let current: Backend = cpuBackend;

export function getBackend(): Backend {
  return current;
}

export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/** Make `name` the backend of every following op; throws listing the known backends. */
export function setBackend(name: string): void {
  const backend = backends.get(name);
  if (!backend) {
    throw new ValueError(`setBackend: unknown backend '${name}'; known backends: ${[...backends.keys()].join(', ')}`);
  }
  current = backend;
}

export function listBackends(): string[] {
  return [...backends.keys()];
}
