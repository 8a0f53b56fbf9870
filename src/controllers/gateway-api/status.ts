/** Gateway API status conditions, as the API's conformance tests read them. */
import type { Condition } from '../../api/gateway/types.js';

export function condition(type: string, ok: boolean, reason: string, message: string): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message };
}

/** `Accepted`'s value in a list of conditions: 'True', 'False' or '' when absent. */
export function conditionStatus(conditions: readonly Condition[] | undefined, type: string): string {
  return conditions?.find((c) => c.type === type)?.status ?? '';
}
