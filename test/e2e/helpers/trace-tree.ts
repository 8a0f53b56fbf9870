/** Reading a received trace as a tree, to assert how its spans nest and to print it on failure. */
import type { ReceivedSpan } from '../../integration/tracing/otlp-receiver.js';

const KIND: Record<number, string> = { 2: 'SERVER', 3: 'CLIENT' };

/** `service KIND` and, for a CLIENT span, the cluster it called. */
function label(s: ReceivedSpan): string {
  const kind = KIND[s.kind] ?? String(s.kind);
  return s.kind === 3
    ? `${s.serviceName} ${kind} ${s.attributes.upstream_cluster ?? '?'}`
    : `${s.serviceName} ${kind}`;
}

/** Every parent -> child relation in the trace, sorted; a span whose parent is missing shows as `?`. */
export function traceEdges(spans: readonly ReceivedSpan[]): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  return spans
    .filter((s) => s.parentSpanId !== '')
    .map((s) => {
      const parent = byId.get(s.parentSpanId);
      return `${parent ? label(parent) : `? ${s.parentSpanId}`} -> ${label(s)}`;
    })
    .sort();
}

/** One line per span, indented under its parent, for failure messages. */
export function describeTrace(spans: readonly ReceivedSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const lines: string[] = [];
  const line = (s: ReceivedSpan, depth: number) =>
    `${'  '.repeat(depth)}${label(s)} ${JSON.stringify(s.name)} [${s.spanId}] id=${s.attributes['guid:x-request-id'] ?? '-'} ${s.attributes['http.url'] ?? ''}`;
  const walk = (parent: string, depth: number) => {
    for (const s of spans.filter((x) => x.parentSpanId === parent)) {
      lines.push(line(s, depth));
      walk(s.spanId, depth + 1);
    }
  };
  walk('', 0);
  for (const s of spans.filter((x) => x.parentSpanId !== '' && !ids.has(x.parentSpanId)))
    lines.push(`(orphan of ${s.parentSpanId}) ${line(s, 0)}`);
  return lines.join('\n');
}
