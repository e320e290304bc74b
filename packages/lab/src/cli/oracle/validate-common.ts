/** Helpers shared by the oracle's schema checks (validate.ts, validate-transforms.ts). */

export type Fail = (field: string, message: string) => never;

/** A value as a message shows it: short JSON, or 'nothing'. */
export const describe = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? typeof v : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
