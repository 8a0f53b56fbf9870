/** The layering's conflicts and rejections as problems of the filters involved. */
import type { Problem } from '../../core/errors.js';
import type { Conflict, Rejection } from './layering.js';

const shown = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** One problem per filter, field and set of rivals, listing every place of the frame. */
export function conflictProblems(frame: string, conflicts: readonly Conflict[]): [string, Problem][] {
  const merged = new Map<
    string,
    { filter: string; field: string; ats: string[]; message: (at: string) => string }
  >();
  for (const c of conflicts) {
    for (const p of c.parties) {
      const rivals = c.parties.filter((o) => o.filter.key !== p.filter.key);
      if (rivals.length === 0) continue;
      const names = [
        ...new Set(rivals.map((o) => `TrafficFilter ${o.filter.key} (owner ${o.filter.owner})`)),
      ];
      const values = [
        `this filter: ${shown(p.value)}`,
        ...rivals.map((o) => `${o.filter.key}: ${o.field === p.field ? '' : `${o.field} `}${shown(o.value)}`),
      ];
      const id = `${p.filter.key}\n${p.field}\n${names.join(',')}`;
      const entry = merged.get(id);
      if (entry !== undefined) {
        if (!entry.ats.includes(c.at)) entry.ats.push(c.at);
        continue;
      }
      merged.set(id, {
        filter: p.filter.key,
        field: p.field,
        ats: [c.at],
        message: (at) =>
          `conflicts with ${names.join(' and ')} at the same priority ${c.priority}: both set ${frame} ${at} (${[...new Set(values)].join('; ')}), so neither applies there and it keeps what the frame and lower priorities give it; give one of them another priority`,
      });
    }
  }
  return [...merged.values()].map((e) => [
    e.filter,
    { severity: 'error', path: e.field, message: e.message(e.ats.join(', ')) },
  ]);
}

export function rejectionProblems(frame: string, rejected: readonly Rejection[]): [string, Problem][] {
  return rejected.map((r) => [
    r.filter.key,
    {
      severity: 'error',
      path: 'spec',
      message: `not applied to ${frame}: the result would be invalid (${r.errors.join('; ')}); change the filter or the frame`,
    },
  ]);
}
