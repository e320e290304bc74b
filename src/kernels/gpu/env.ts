/**
 * Reading environment variables without depending on Node: the core must run in browsers and
 * workers too, where there is no `process`. Shared by the registry (GRADSCOPE_BACKEND) and the
 * GPU.js backend (GRADSCOPE_GPU_MODE); kept apart from the backend so the registry can read it
 * without loading GPU.js.
 */

/** The value of environment variable `name`, or undefined where there is none (or no env). */
export function readEnv(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.[name]?.trim();
  return value ? value : undefined;
}
