/**
 * State-of-the-world xDS on one stream: each response carries every resource of the type the
 * client is subscribed to. Requests change the subscription or ACK/NACK a response; grpc-js-xds
 * ACKs stale nonces, so a stale nonce is ignored unless the names changed (ARCHITECTURE.md).
 */
import { RESOURCE_TYPES, TYPE, type ResourceTypeUrl } from '../../protocol/protos.js';
import type { NodeMessage } from '../node.js';
import { noteHeld, typeState, type Connection } from './connection.js';
import { sameSet, type EncodedSet } from './resource-encoding.js';
import {
  encodedFor,
  recordAck,
  recordSent,
  type ErrorDetail,
  type Publication,
  type StreamContext,
} from './server-context.js';
import { encodeDiscoveryResponse, encodeResourceList } from './wire.js';

export interface SotwRequest {
  version_info?: string;
  node?: NodeMessage;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: ErrorDetail | null;
}

/** Types whose SotW responses must list every subscribed resource; also wildcard-capable. */
export const WILDCARD_TYPES = new Set<string>([TYPE.listener, TYPE.cluster]);

export function onSotwRequest(ctx: StreamContext, conn: Connection, req: SotwRequest): void {
  const typeUrl = req.type_url ?? '';
  if (!RESOURCE_TYPES.includes(typeUrl as ResourceTypeUrl)) {
    ctx.logger.debug('ignoring request for unknown type', { proxy: conn.proxy.id, typeUrl });
    return;
  }
  const s = typeState(conn, typeUrl);
  // Joining is much cheaper than building a Set of thousands of names on every ACK.
  const requested = req.resource_names ?? [];
  const namesKey = requested.join('\n');
  const namesChanged = !s.subscribed || namesKey !== s.namesKey;
  const nonce = req.response_nonce ?? '';

  if (nonce !== '' && nonce !== s.lastSentNonce && !namesChanged) return; // stale: a newer response is on its way
  if (nonce !== '' && nonce === s.lastSentNonce) {
    recordAck(ctx, conn, s, typeUrl as ResourceTypeUrl, req.version_info ?? '', nonce, req.error_detail);
  }
  if (!namesChanged) return;
  const names = new Set(requested.filter((n) => n !== ''));
  s.wildcard = WILDCARD_TYPES.has(typeUrl) && (names.size === 0 || names.has('*'));
  names.delete('*');
  s.subscribed = true;
  s.names = names;
  s.namesKey = namesKey;
  ctx.enqueue(conn, [typeUrl], true);
}

/**
 * Sends the type's full set unless it equals the last one sent (or `force`). `holdRemovals`
 * keeps what the last response had and this one drops: the first half of a make-before-break
 * cluster update. Only CDS needs it: a SotW EDS response leaving a name out removes nothing.
 */
export async function pushSotw(
  ctx: StreamContext,
  pub: Publication,
  conn: Connection,
  typeUrl: ResourceTypeUrl,
  force: boolean,
  since: number,
  holdRemovals = false,
): Promise<void> {
  const encoded = encodedFor(ctx, pub, conn, typeUrl, (t) => t.namesKey);
  if (encoded === undefined) return;
  const { s } = encoded;
  let set = encoded.set;
  if (holdRemovals && typeUrl === TYPE.cluster) set = withRemoved(typeUrl, set, s.sotwSent);
  if (!force && sameSet(s.sotwSent, set)) {
    // Nothing to send: what the proxy was last sent is this push's config of the type.
    if (s.lastSentNonce !== '') noteHeld(s, pub.version);
    return;
  }
  s.sotwSent = set;
  const nonce = recordSent(ctx, s, typeUrl, pub.version, set.bytes, since);
  await conn.send(encodeDiscoveryResponse(set.list, typeUrl, pub.version, nonce));
}

/**
 * A state-of-the-world set that also keeps what `previous` had and `next` dropped (as they were
 * sent): the first half of a make-before-break cluster update.
 */
function withRemoved(typeUrl: string, next: EncodedSet, previous: EncodedSet | undefined): EncodedSet {
  if (previous === undefined) return next;
  const kept = [...previous.entries].filter(([name]) => !next.entries.has(name));
  if (kept.length === 0) return next;
  const entries = new Map([...next.entries, ...kept]);
  let bytes = 0;
  for (const b of entries.values()) bytes += b.length;
  return { entries, list: encodeResourceList(typeUrl, [...entries.values()]), bytes };
}
