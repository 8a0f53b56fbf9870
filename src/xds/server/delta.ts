/**
 * Incremental (delta) xDS on one stream: the client subscribes and unsubscribes names, and each
 * response carries only the resources whose version (a content hash) changed, plus the names
 * removed. What the client holds is tracked per name in TypeState.sent.
 */
import { RESOURCE_TYPES, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { NodeMessage } from '../node.js';
import { noteHeld, typeState, type Connection } from './connection.js';
import { resourceVersion } from './resource-encoding.js';
import {
  encodedFor,
  recordAck,
  recordSent,
  type ErrorDetail,
  type Publication,
  type StreamContext,
} from './server-context.js';
import { WILDCARD_TYPES } from './sotw.js';

export interface DeltaRequest {
  node?: NodeMessage;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: ErrorDetail | null;
}

export function onDeltaRequest(ctx: StreamContext, conn: Connection, req: DeltaRequest): void {
  const typeUrl = req.type_url ?? '';
  if (!RESOURCE_TYPES.includes(typeUrl as ResourceTypeUrl)) return;
  const s = typeState(conn, typeUrl);
  const nonce = req.response_nonce ?? '';
  // A NACKed resource keeps its (rejected) version in `sent`; a corrected one hashes
  // differently, so it is sent again on the next push.
  if (nonce !== '' && nonce === s.lastSentNonce) {
    recordAck(ctx, conn, s, typeUrl as ResourceTypeUrl, s.lastSentVersion, nonce, req.error_detail);
  }
  let changed = false;
  if (!s.subscribed) {
    s.subscribed = true;
    changed = true;
    const subs = req.resource_names_subscribe ?? [];
    if (WILDCARD_TYPES.has(typeUrl) && subs.length === 0) s.wildcard = true;
    for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) {
      s.sent.set(name, { bytes: new Uint8Array(), version });
    }
  }
  for (const n of req.resource_names_subscribe ?? []) {
    if (n === '*') s.wildcard = true;
    else s.names.add(n);
    changed = true;
  }
  for (const n of req.resource_names_unsubscribe ?? []) {
    if (n === '*') s.wildcard = false;
    else {
      s.names.delete(n);
      s.sent.delete(n);
    }
    changed = true;
  }
  if (changed) ctx.enqueue(conn, [typeUrl], false);
}

/**
 * Sends what changed since the client's last view of the type, and what was removed unless
 * `holdRemovals` (make-before-break: a removal waits for the routes that stop naming it).
 */
export async function pushDelta(
  ctx: StreamContext,
  pub: Publication,
  conn: Connection,
  typeUrl: ResourceTypeUrl,
  since: number,
  holdRemovals = false,
): Promise<void> {
  const encoded = encodedFor(ctx, pub, conn, typeUrl, (t) => [...t.names].join('\n'));
  if (encoded === undefined) return;
  const { s } = encoded;
  const resources = encoded.set.entries;
  const changed: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[] = [];
  let bytes = 0;
  for (const [name, value] of resources) {
    const version = resourceVersion(value);
    if (s.sent.get(name)?.version === version) {
      s.sent.set(name, { bytes: value, version });
      continue;
    }
    s.sent.set(name, { bytes: value, version });
    changed.push({ name, version, resource: { type_url: typeUrl, value } });
    bytes += value.length;
  }
  const removed: string[] = [];
  for (const name of [...s.sent.keys()]) {
    if (!resources.has(name) && !holdRemovals) {
      s.sent.delete(name);
      removed.push(name);
    }
  }
  if (changed.length === 0 && removed.length === 0 && s.lastSentNonce !== '') {
    // Nothing to send: what the proxy was last sent is this push's config of the type.
    noteHeld(s, pub.version);
    return;
  }
  const nonce = recordSent(ctx, s, typeUrl, pub.version, bytes, since);
  await conn.send({
    system_version_info: pub.version,
    resources: changed,
    type_url: typeUrl,
    removed_resources: removed,
    nonce,
  });
}
