/**
 * Where Trellis keeps its state in etcd (one layout, shared by every replica and documented here):
 *
 *   /trellis/config/<Kind>/<namespace>/<name>     one written resource: its manifest as JSON (what
 *                                                  `trellis get -o json` shows, secret values
 *                                                  included), plus metadata.creationTimestamp
 *   /trellis/derived/router/<Kind>/<ns>/<name>     the Router layer the elected leader writes
 *   /trellis/registrations/<id>                    one registration (JSON), under a lease with its TTL
 *   /trellis/registrations-deregistered/<id>       written with the delete of a deregistration (same
 *                                                  revision), so replicas tell it from an expiry
 *   /trellis/registrations-expired/<id>/<revision> the claim of the replica that reports an expiry
 *                                                  (one wins: an expiry is reported once)
 *   /trellis/election/leader                       leader election (etcd's Election API keys)
 *
 * Kind, namespace and name never hold `/` (DNS-1123 names, Kubernetes kinds), so a key splits
 * back into exactly three parts; registration ids (which hold `/`) are percent-encoded. A resource's `resourceVersion` is its key's mod revision and the
 * store's revision the etcd revision it has seen: both compare across replicas.
 */
import { TrellisError } from '../core/errors.js';

export const CONFIG_PREFIX = '/trellis/config/';
export const ROUTER_PREFIX = '/trellis/derived/router/';
export const REGISTRATION_PREFIX = '/trellis/registrations/';
export const DEREGISTERED_PREFIX = '/trellis/registrations-deregistered/';
export const EXPIRED_PREFIX = '/trellis/registrations-expired/';
/** Covers the three registration prefixes above, for one watch. */
export const REGISTRATION_WATCH_PREFIX = '/trellis/registrations';
export const ELECTION_NAME = '/trellis/election/leader';

export interface ResourceKeyParts {
  kind: string;
  namespace: string;
  name: string;
}

/** The key of one resource under `prefix` (which ends with `/`). */
export function resourceEtcdKey(prefix: string, kind: string, namespace: string, name: string): string {
  return `${prefix}${kind}/${namespace}/${name}`;
}

/** The parts of a resource key, or undefined when the key is not one (wrong prefix or shape). */
export function parseResourceEtcdKey(prefix: string, key: string): ResourceKeyParts | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const parts = key.slice(prefix.length).split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined;
  const [kind, namespace, name] = parts as [string, string, string];
  return { kind, namespace, name };
}

/**
 * `etcd://host:port[,host:port...]` to the client's endpoints (`http://host:port`). Throws
 * TRELLIS_INVALID_ARGUMENT saying what is expected.
 */
export function parseEtcdUrl(url: string): string[] {
  const expected = 'expected etcd://HOST:PORT[,HOST:PORT...] (e.g. etcd://127.0.0.1:2379)';
  const m = /^etcd:\/\/(.+)$/.exec(url.trim());
  if (!m) throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `${JSON.stringify(url)}: ${expected}`);
  const endpoints = (m[1] as string).split(',').map((e) => e.trim());
  for (const e of endpoints) {
    const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(e);
    const port = hp ? Number(hp[2]) : NaN;
    if (!hp || !(port >= 1 && port <= 65535))
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `${JSON.stringify(url)}: endpoint ${JSON.stringify(e)} is not HOST:PORT; ${expected}`,
      );
  }
  return endpoints.map((e) => `http://${e}`);
}
