/**
 * Field paths of the effective resources, as provenance names them and `trellis get --effective`
 * finds them again: `spec.http[0].retries.attempts`,
 * `metadata.annotations["trellis.io/retry-budget"]`. One writer, so the two always agree.
 */
export type PathStep = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function formatPath(steps: readonly PathStep[]): string {
  let out = '';
  for (const step of steps) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (PLAIN_KEY.test(step)) out += out === '' ? step : `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

/** True when `path` is `ancestor` or lies under it. */
export function isAtOrUnder(path: string, ancestor: string): boolean {
  if (!path.startsWith(ancestor)) return false;
  const next = path.charAt(ancestor.length);
  return next === '' || next === '.' || next === '[';
}
