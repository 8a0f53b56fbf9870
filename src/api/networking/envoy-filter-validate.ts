/**
 * EnvoyFilter validation, following Istio's ValidateEnvoyFilter
 * (pkg/config/validation/envoyfilter) and its CRD schema: errors where Istio rejects, warnings
 * where Istio warns. What the api layer cannot check (that `patch.value` decodes as the Envoy
 * message `applyTo` names) is checked by the translation, which reports the patch and skips it.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { checkLabels } from './validate-common.js';
import {
  APPLY_TO,
  FILTER_CLASSES,
  OPERATIONS,
  PATCH_CONTEXTS,
  ROUTE_ACTIONS,
  type ApplyTo,
  type PatchOperation,
} from './envoy-filter.js';

const FIELDS = ['workloadSelector', 'targetRefs', 'priority', 'configPatches'] as const;
const HCM = 'envoy.filters.network.http_connection_manager';
/** Istio bounds the proxy version regex (longer ones are ignored, with a warning). */
const MAX_PROXY_VERSION_LEN = 1024;
/** Istio's names of filters that have newer ones (a match on the old name warns). */
const DEPRECATED_FILTER_NAMES: Readonly<Record<string, string>> = {
  'envoy.http_connection_manager': HCM,
  'envoy.router': 'envoy.filters.http.router',
  'envoy.cors': 'envoy.filters.http.cors',
  'envoy.fault': 'envoy.filters.http.fault',
  'envoy.lua': 'envoy.filters.http.lua',
  'envoy.tcp_proxy': 'envoy.filters.network.tcp_proxy',
  'envoy.rate_limit': 'envoy.filters.http.ratelimit',
  'envoy.ext_authz': 'envoy.filters.http.ext_authz',
};

/**
 * The operations Istio performs for each applyTo (pilot/pkg/networking/core/envoyfilter);
 * any other pairing is accepted by Istio and does nothing, which Trellis reports as a warning.
 */
export const SUPPORTED_OPERATIONS: Readonly<Record<ApplyTo, readonly PatchOperation[]>> = {
  LISTENER: ['ADD', 'REMOVE', 'MERGE', 'MERGE_AND_REPLACE_LIST'],
  FILTER_CHAIN: ['ADD', 'REMOVE', 'MERGE', 'MERGE_AND_REPLACE_LIST'],
  NETWORK_FILTER: ['ADD', 'REMOVE', 'MERGE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'],
  HTTP_FILTER: ['ADD', 'REMOVE', 'MERGE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'],
  ROUTE_CONFIGURATION: ['MERGE', 'MERGE_AND_REPLACE_LIST'],
  VIRTUAL_HOST: ['ADD', 'REMOVE', 'MERGE', 'MERGE_AND_REPLACE_LIST', 'REPLACE'],
  HTTP_ROUTE: [
    'ADD',
    'REMOVE',
    'MERGE',
    'MERGE_AND_REPLACE_LIST',
    'INSERT_BEFORE',
    'INSERT_AFTER',
    'INSERT_FIRST',
  ],
  CLUSTER: ['ADD', 'REMOVE', 'MERGE', 'MERGE_AND_REPLACE_LIST'],
  EXTENSION_CONFIG: ['ADD', 'MERGE', 'REPLACE'],
};

const LISTENER_CLASS = new Set<ApplyTo>(['LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER']);
const ROUTE_CLASS = new Set<ApplyTo>(['ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE']);

export function validateEnvoyFilter(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const ef = c.object(spec, path, FIELDS);
  if (ef === undefined) return;
  // Istio warns on every EnvoyFilter.
  c.warning(
    path,
    'EnvoyFilter exposes internal implementation details that may change at any time; prefer other APIs where possible, and check patched config after upgrades (trellis proxy-config)',
  );
  const selector = c.child(ef, 'workloadSelector', path, ['labels']);
  if (selector !== undefined) {
    const labels = checkLabels(c, selector, 'labels', fieldPath(path, 'workloadSelector'));
    if (labels.size === 0)
      c.warning(
        fieldPath(path, 'workloadSelector'),
        'no labels: the filter applies to every workload in its namespace; add labels or remove workloadSelector',
      );
  }
  const refs = c.list(ef, 'targetRefs', path) ?? [];
  if (selector !== undefined && refs.length > 0)
    c.error(path, 'only one of targetRefs or workloadSelector can be set; remove one of them');
  for (const item of refs) checkTargetRef(c, item.value, item.path);
  c.int(ef, 'priority', path, { min: -2147483648, max: 2147483647 });
  for (const item of c.list(ef, 'configPatches', path) ?? []) checkPatch(c, item.value, item.path);
}

function checkTargetRef(c: SpecCheck, value: unknown, path: string): void {
  const ref = c.object(value, path, ['group', 'kind', 'name', 'namespace']);
  if (ref === undefined) return;
  const group = c.string(ref, 'group', path) ?? '';
  const kind = c.string(ref, 'kind', path, { required: true });
  c.string(ref, 'name', path, { required: true });
  const ns = c.string(ref, 'namespace', path);
  if (ns !== undefined && ns !== '')
    c.error(fieldPath(path, 'namespace'), 'cross-namespace references are not allowed; leave it out');
  if (kind === undefined) return;
  if (kind === 'Gateway' && group === 'gateway.networking.k8s.io') return;
  c.warning(
    path,
    `${group === '' ? '' : `${group}/`}${kind}: Trellis attaches EnvoyFilters only to Gateways (gateway.networking.k8s.io); this reference selects no proxy (Istio applies Service and GatewayClass references at waypoints only)`,
  );
}

function checkPatch(c: SpecCheck, value: unknown, path: string): void {
  if (value === null) {
    c.error(path, 'null config patch; remove it');
    return;
  }
  const cp = c.object(value, path, ['applyTo', 'match', 'patch']);
  if (cp === undefined) return;
  const applyTo = enumField(c, cp, 'applyTo', path, APPLY_TO, 'missing applyTo') as ApplyTo | undefined;
  const match = c.child(cp, 'match', path, [
    'context',
    'proxy',
    'listener',
    'routeConfiguration',
    'cluster',
    'waypoint',
  ]);
  const patch = c.child(cp, 'patch', path, ['operation', 'value', 'filterClass']);
  if (isAbsent(cp.patch)) c.error(fieldPath(path, 'patch'), 'missing patch');
  if (applyTo === undefined) return;
  const waypoint = match !== undefined && (match.context === 'WAYPOINT' || !isAbsent(match.waypoint));
  if (match !== undefined) {
    if (waypoint) checkWaypointMatch(c, match, fieldPath(path, 'match'));
    else checkMatch(c, match, fieldPath(path, 'match'), applyTo);
  }
  // Istio checks no more of a WAYPOINT patch.
  if (patch === undefined || waypoint) return;
  const patchPath = fieldPath(path, 'patch');
  const op = enumField(c, patch, 'operation', patchPath, OPERATIONS, 'missing patch operation') as
    PatchOperation | undefined;
  enumField(c, patch, 'filterClass', patchPath, FILTER_CLASSES);
  if (!isAbsent(patch.value) && (typeof patch.value !== 'object' || Array.isArray(patch.value)))
    c.error(fieldPath(patchPath, 'value'), 'expected an object (the Envoy message, as JSON)');
  if (op === undefined) return;
  if (op !== 'REMOVE' && isAbsent(patch.value))
    c.error(fieldPath(patchPath, 'value'), `missing patch value for ${op}; only REMOVE takes none`);
  if (!isAbsent(patch.filterClass) && applyTo !== 'HTTP_FILTER')
    c.warning(fieldPath(patchPath, 'filterClass'), 'filterClass applies to HTTP_FILTER patches only');
  if (!SUPPORTED_OPERATIONS[applyTo].includes(op))
    c.warning(
      fieldPath(patchPath, 'operation'),
      `${op} does nothing for ${applyTo} (Istio ignores it); use one of ${SUPPORTED_OPERATIONS[applyTo].join(', ')}`,
    );
  if (applyTo === 'EXTENSION_CONFIG')
    c.warning(
      fieldPath(path, 'applyTo'),
      'EXTENSION_CONFIG patches are not applied: Trellis serves no extension config discovery (ECDS); configure the filter with an HTTP_FILTER patch instead',
    );
}

/**
 * Istio's ambient waypoints: the CRD's rules (a waypoint match only with context WAYPOINT, and
 * WAYPOINT only with a waypoint match), then a warning, since Trellis runs no waypoints.
 */
function checkWaypointMatch(c: SpecCheck, m: Obj, path: string): void {
  const objects = ['listener', 'routeConfiguration', 'cluster'].filter((k) => !isAbsent(m[k]));
  if (m.context !== 'WAYPOINT' || objects.length > 0) {
    c.error(
      path,
      'only support waypointMatch when context is WAYPOINT (and no listener, routeConfiguration or cluster match)',
    );
    return;
  }
  const w = c.child(m, 'waypoint', path, ['filter', 'route', 'portNumber']);
  if (w !== undefined) c.port(w, 'portNumber', fieldPath(path, 'waypoint'));
  c.warning(
    fieldPath(path, 'context'),
    "WAYPOINT patches apply at ambient waypoints, which Trellis does not run: this patch is not applied; use SIDECAR_INBOUND to patch the workload's sidecar",
  );
}

function enumField(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
  values: readonly string[],
  missing?: string,
): string | undefined {
  const v = o[key];
  if (isAbsent(v)) {
    if (missing !== undefined)
      c.error(fieldPath(path, key), `${missing}; expected one of ${values.join(', ')}`);
    return undefined;
  }
  if (typeof v !== 'string' || !values.includes(v)) {
    c.error(fieldPath(path, key), `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

function checkMatch(c: SpecCheck, m: Obj, path: string, applyTo: ApplyTo): void {
  enumField(c, m, 'context', path, PATCH_CONTEXTS);
  const proxy = c.child(m, 'proxy', path, ['proxyVersion', 'metadata']);
  if (proxy !== undefined) {
    const version = c.string(proxy, 'proxyVersion', fieldPath(path, 'proxy'));
    const at = fieldPath(fieldPath(path, 'proxy'), 'proxyVersion');
    if (version !== undefined && version.length > MAX_PROXY_VERSION_LEN)
      c.warning(at, `longer than ${MAX_PROXY_VERSION_LEN} characters: the version match is ignored`);
    else if (version !== undefined) c.regex(version, at);
    c.stringMap(proxy, 'metadata', fieldPath(path, 'proxy'));
  }
  const objects = ['listener', 'routeConfiguration', 'cluster'].filter((k) => !isAbsent(m[k]));
  if (objects.length > 1)
    c.error(
      path,
      `only one of listener, routeConfiguration or cluster can be set (got ${objects.join(', ')})`,
    );
  if (LISTENER_CLASS.has(applyTo) && objects.length > 0 && isAbsent(m.listener))
    c.error(path, 'applyTo for listener class objects cannot have non listener match; use match.listener');
  if (ROUTE_CLASS.has(applyTo) && objects.length > 0 && isAbsent(m.routeConfiguration))
    c.error(
      path,
      'applyTo for http route class objects cannot have non route configuration match; use match.routeConfiguration',
    );
  if (applyTo === 'CLUSTER' && objects.length > 0 && isAbsent(m.cluster))
    c.error(path, 'applyTo for cluster class objects cannot have non cluster match; use match.cluster');
  const listener = c.child(m, 'listener', path, [
    'portNumber',
    'name',
    'filterChain',
    'portName',
    'listenerFilter',
  ]);
  if (listener !== undefined) checkListenerMatch(c, listener, fieldPath(path, 'listener'), applyTo);
  const rc = c.child(m, 'routeConfiguration', path, ['portNumber', 'portName', 'gateway', 'name', 'vhost']);
  if (rc !== undefined) {
    const p = fieldPath(path, 'routeConfiguration');
    c.int(rc, 'portNumber', p, { min: 0, max: 65535 });
    for (const k of ['portName', 'gateway', 'name']) c.string(rc, k, p);
    const vh = c.child(rc, 'vhost', p, ['name', 'route', 'domainName']);
    if (vh !== undefined) {
      const vp = fieldPath(p, 'vhost');
      c.string(vh, 'name', vp);
      c.string(vh, 'domainName', vp);
      const route = c.child(vh, 'route', vp, ['name', 'action']);
      if (route !== undefined) {
        c.string(route, 'name', fieldPath(vp, 'route'));
        enumField(c, route, 'action', fieldPath(vp, 'route'), ROUTE_ACTIONS);
      }
    }
  }
  const cluster = c.child(m, 'cluster', path, ['portNumber', 'service', 'subset', 'name']);
  if (cluster !== undefined) {
    const p = fieldPath(path, 'cluster');
    c.int(cluster, 'portNumber', p, { min: 0, max: 65535 });
    for (const k of ['service', 'subset', 'name']) c.string(cluster, k, p);
  }
}

function checkListenerMatch(c: SpecCheck, l: Obj, path: string, applyTo: ApplyTo): void {
  c.int(l, 'portNumber', path, { min: 0, max: 65535 });
  c.string(l, 'name', path);
  if (!isAbsent(l.portName))
    c.warning(fieldPath(path, 'portName'), 'not implemented by Istio; it matches nothing');
  if (!isAbsent(l.listenerFilter))
    c.error(
      fieldPath(path, 'listenerFilter'),
      'LISTENER_FILTER patches are not supported by Trellis; remove it',
    );
  const fc = c.child(l, 'filterChain', path, [
    'name',
    'sni',
    'transportProtocol',
    'applicationProtocols',
    'destinationPort',
    'filter',
  ]);
  if (fc === undefined) return;
  const fp = fieldPath(path, 'filterChain');
  for (const k of ['name', 'sni', 'transportProtocol', 'applicationProtocols']) c.string(fc, k, fp);
  c.int(fc, 'destinationPort', fp, { min: 0, max: 65535 });
  const filter = c.child(fc, 'filter', fp, ['name', 'subFilter']);
  if (filter === undefined) return;
  const ff = fieldPath(fp, 'filter');
  if (applyTo === 'LISTENER' || applyTo === 'FILTER_CHAIN')
    c.warning(ff, `filter match has no effect when used with ${applyTo}`);
  const name = c.string(filter, 'name', ff);
  if (name === undefined || name === '') {
    c.error(fieldPath(ff, 'name'), 'filter match has no name to match on');
    return;
  }
  deprecatedName(c, name, fieldPath(ff, 'name'));
  const sub = c.child(filter, 'subFilter', ff, ['name']);
  if (sub === undefined) return;
  const sp = fieldPath(ff, 'subFilter');
  if (applyTo !== 'HTTP_FILTER') {
    c.error(sp, 'subfilter match can be used with applyTo HTTP_FILTER only');
    return;
  }
  if (name !== HCM && name !== 'envoy.http_connection_manager') {
    c.error(sp, `subfilter match requires filter match with ${HCM}`);
    return;
  }
  const subName = c.string(sub, 'name', sp);
  if (subName === undefined || subName === '')
    c.error(fieldPath(sp, 'name'), 'subfilter match has no name to match on');
  else deprecatedName(c, subName, fieldPath(sp, 'name'));
}

function deprecatedName(c: SpecCheck, name: string, path: string): void {
  const instead = DEPRECATED_FILTER_NAMES[name];
  if (instead !== undefined)
    c.warning(
      path,
      `using deprecated filter name ${JSON.stringify(name)}; use ${JSON.stringify(instead)} instead`,
    );
}
