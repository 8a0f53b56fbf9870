import { stringify } from 'yaml';
import { TrellisError } from '../../core/errors.js';
import type { Resource } from '../../api/resource.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { configRequest, expectOk, type ListResponse } from '../config-client.js';
import { apiGet, controlPlaneUrl } from '../http-client.js';
import { renderResources } from '../resource-table.js';
import { proxyConfigColumns } from '../proxy-config-columns.js';
import { connectedProxies } from '../connected-proxies.js';
import { printInventory } from '../get-inventory.js';
import { inventoryKind } from '../mesh-inventory.js';
import {
  isTrafficFilterKind,
  renderEffective,
  renderTrafficFilters,
  type EffectiveResource,
} from '../get-effective.js';

const USAGE = `Usage: trellis get KIND [NAME] [-n NAMESPACE | -A] [-o table|wide|yaml|json] [--effective] [--control-plane URL]
       trellis get services|workloads|endpoints [NAME] [-n NAMESPACE | -A] [-o table|wide|yaml|json]

Lists the resources the control plane serves, from files and from 'trellis apply'.

services, workloads and endpoints (svc, wl, ep) list the control plane's service index instead:
  services    NAME (host), PORTS, ENDPOINTS (healthy/all), LOCATION; wide adds RESOLUTION,
              ADDRESSES, LABELS, SOURCE (the ServiceEntry or registration behind it)
  workloads   NAME, SERVICES, READY (healthy/all instances), PROXY (connected sidecars);
              wide adds ADDRESSES, LABELS, PROXY IDS
  routers     NAME, PORT, BRANCHES, then the rollout: PHASE (Progressing, Ready, Stalled), STEP
              (waiting to be in effect), REVISION (in effect on every proxy), WAITING ON (the
              proxies holding it, and why); the resources a Router derives show with
              'trellis get vs|dr|se', and -o wide names the Router as their SOURCE
  endpoints   ENDPOINT (address:port), SERVICE, PORT, HEALTH, WORKLOAD; wide adds WEIGHT,
              LOCALITY, LABELS, SERVICE ACCOUNT
NAME is a service host or its first label (reviews), or a workload name (reviews-v1).

KIND is a kind (VirtualService), its plural (virtualservices), or Istio's short name:
vs, dr, gw, se, we. Case does not matter. The Gateway API's kinds: gtw (its Gateway, also
gateways.gateway.networking.k8s.io; plain 'gateways' is Istio's), gc, httproutes, grpcroutes,
tcproutes, tlsroutes, refgrant; routes show ACCEPTED and RESOLVED, gateways PROGRAMMED (the
status the control plane computed; -o yaml shows it in full). proxyconfigs show SELECTOR and
CONCURRENCY; -o wide adds APPLIED (at proxy start: a change takes effect when a proxy restarts)
and RESTART TO APPLY (the connected proxies it applies to that run an older one).

  -n, --namespace NS      the namespace (default: default)
  -A, --all-namespaces    every namespace; adds a NAMESPACE column
  -o, --output FORMAT     table (default), wide (adds SOURCE: the file serving each resource),
                          yaml (multi-document, re-appliable with 'trellis apply -f'), json
  --effective             as the mesh serves it, TrafficFilters patched in: a NAME prints as YAML
                          with each field a filter set commented with that filter (owner,
                          priority), conflicts on top; -o json adds status.provenance
                          (field path -> filter), status.conflicts and status.problems
  --control-plane URL     the control plane's HTTP API (default $TRELLIS_CONTROL_PLANE or
                          http://127.0.0.1:15014)

Examples:
  trellis get vs -A
  trellis get dr reviews -o yaml
  trellis get vs reviews --effective
  trellis get trafficfilters -A      (OWNER, PRIORITY, TARGET, FEATURE, CONFLICTS, then problems)
  trellis get endpoints reviews -o wide`;

const FORMATS = ['table', 'wide', 'yaml', 'json'] as const;

/** What GET /v1/routers answers per Router (controllers/router/controller.ts RouterStatus). */
interface RouterRollout {
  namespace: string;
  name: string;
  phase: string;
  revision: number;
  step?: string;
  lagging: { name: string; reason: string }[];
}

/**
 * A Router's rollout beside it: PHASE, STEP (waiting to be in effect), REVISION (the store
 * revision in effect everywhere) and WAITING ON (the proxies holding it, and why).
 */
async function routerColumns(
  base: string,
): Promise<NonNullable<Parameters<typeof renderResources>[2]['extra']>> {
  const rollouts = (await apiGet(base, '/v1/routers')) as RouterRollout[];
  const byKey = new Map(rollouts.map((r) => [`${r.namespace}/${r.name}`, r]));
  return {
    headers: ['PHASE', 'STEP', 'REVISION', 'WAITING ON'],
    cells: (res) => {
      const r = byKey.get(`${res.metadata.namespace}/${res.metadata.name}`);
      if (r === undefined) return ['Pending', '-', '-', '-'];
      const waiting = r.lagging.map((l) => `${l.name} (${l.reason})`).join(',');
      return [r.phase, r.step ?? '-', r.revision < 0 ? '-' : String(r.revision), waiting || '-'];
    },
  };
}

export const command: Command = {
  name: 'get',
  summary: 'List or show config resources (VirtualService, DestinationRule, ...) the control plane serves.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('get', argv, {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A', default: false },
      output: { type: 'string', short: 'o', default: 'table' },
      'control-plane': { type: 'string' },
      effective: { type: 'boolean', default: false },
    });
    const [kind, name, extra] = positionals;
    if (kind === undefined || extra !== undefined) {
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `expected KIND [NAME]; run 'trellis get --help'`);
    }
    const output = values.output as (typeof FORMATS)[number];
    if (!FORMATS.includes(output)) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${JSON.stringify(values.output)}: expected one of ${FORMATS.join(', ')}`,
      );
    }
    const namespace = values.namespace ?? 'default';
    const base = controlPlaneUrl(values['control-plane'], io.env);
    const inventory = inventoryKind(kind);
    if (inventory !== undefined) {
      return printInventory(inventory, name, {
        base,
        namespace: values['all-namespaces'] ? undefined : namespace,
        output,
        io,
      });
    }
    const all = values['all-namespaces'] && name === undefined;
    const k = encodeURIComponent(kind);
    // TrafficFilters always come with what the layering found (their conflicts).
    const effective = values.effective === true || isTrafficFilterKind(kind);

    let response: ListResponse;
    if (name !== undefined) {
      const path = `/v1/config/${k}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}${effective ? '?effective=true' : ''}`;
      const one = expectOk<Resource>(await configRequest(base, 'GET', path), `get ${kind}`);
      response = { kind: one.kind, revision: 0, items: [one], sources: {} };
    } else {
      const params = [
        ...(all ? [] : [`namespace=${encodeURIComponent(namespace)}`]),
        ...(effective ? ['effective=true'] : []),
      ];
      const query = params.length > 0 ? `?${params.join('&')}` : '';
      response = expectOk<ListResponse>(
        await configRequest(base, 'GET', `/v1/config/${k}${query}`),
        `get ${kind}`,
      );
    }
    const items = response.items;
    if (values.effective === true && output !== 'json' && (name !== undefined || output === 'yaml')) {
      io.stdout(items.map((r) => renderEffective(r as EffectiveResource)).join('---\n'));
    } else if (isTrafficFilterKind(kind) && (output === 'table' || output === 'wide') && items.length > 0) {
      io.stdout(
        renderTrafficFilters(items as EffectiveResource[], {
          allNamespaces: all,
          nowMs: Date.now(),
          wide: output === 'wide',
          sources: response.sources,
        }),
      );
    } else if (output === 'json') {
      io.stdout(
        JSON.stringify(name !== undefined ? items[0] : { apiVersion: 'v1', kind: 'List', items }, null, 2) +
          '\n',
      );
    } else if (output === 'yaml') {
      io.stdout(items.map((r) => stringify(r)).join('---\n'));
    } else if (items.length === 0) {
      io.stderr(`No ${response.kind} resources found${all ? '' : ` in ${namespace} namespace`}.\n`);
    } else {
      io.stdout(
        renderResources(response.kind, items, {
          allNamespaces: all,
          wide: output === 'wide',
          nowMs: Date.now(),
          sources: response.sources,
          ...(response.kind === 'Router' ? { extra: await routerColumns(base) } : {}),
          ...(response.kind === 'ProxyConfig' && output === 'wide'
            ? { extra: proxyConfigColumns(await connectedProxies(base)) }
            : {}),
        }),
      );
    }
    return 0;
  },
};
