/**
 * The list operations EnvoyFilter patches share (network filters, HTTP filters, routes), as
 * Istio performs them: ADD appends; INSERT_BEFORE/INSERT_AFTER place the value next to the first
 * element matched (without an element match: first/last); INSERT_FIRST puts it first; REPLACE
 * swaps the first element matched; REMOVE drops every element matched. REPLACE and REMOVE need an
 * element match. MERGE is per element and handled by the caller.
 */
import type { PatchOperation } from '../../../api/networking/envoy-filter.js';

export interface ListPatch<T> {
  operation: PatchOperation;
  value: T;
  /** Whether the patch names an element (a filter or route name). */
  hasMatch: boolean;
  matches(element: T): boolean;
  /**
   * INSERT_FIRST for routes: with a route match, inserts only when some route matches
   * (Istio's patchHTTPRoutes); filters insert regardless.
   */
  firstNeedsMatch?: boolean;
}

export function applyListPatch<T>(list: readonly T[], p: ListPatch<T>): T[] {
  const at = p.hasMatch ? list.findIndex((e) => p.matches(e)) : -1;
  switch (p.operation) {
    case 'ADD':
      return [...list, p.value];
    case 'INSERT_FIRST':
      if (p.firstNeedsMatch === true && p.hasMatch && at < 0) return [...list];
      return [p.value, ...list];
    case 'INSERT_BEFORE':
      if (!p.hasMatch) return [p.value, ...list];
      return at < 0 ? [...list] : [...list.slice(0, at), p.value, ...list.slice(at)];
    case 'INSERT_AFTER':
      if (!p.hasMatch) return [...list, p.value];
      return at < 0 ? [...list] : [...list.slice(0, at + 1), p.value, ...list.slice(at + 1)];
    case 'REPLACE':
      return at < 0 ? [...list] : [...list.slice(0, at), p.value, ...list.slice(at + 1)];
    case 'REMOVE':
      return p.hasMatch ? list.filter((e) => !p.matches(e)) : [...list];
    default:
      return [...list];
  }
}
