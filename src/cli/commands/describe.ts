import { TrellisError } from '../../core/errors.js';
import type { Resource } from '../../api/resource.js';
import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { configRequest, type ListResponse } from '../config-client.js';
import { connectedProxies } from '../connected-proxies.js';
import { describe, renderDescription } from '../describe-model.js';
import { apiGet, controlPlaneUrl } from '../http-client.js';
import type { InventoryService } from '../mesh-inventory.js';

const USAGE = `Usage: trellis describe [workload|service] NAME [-o text|json] [--control-plane URL]

What applies to a workload or a service, as 'istioctl x describe pod|svc' prints it, each item
with the resource (name.namespace and file) that set it:

  workload   its labels, addresses and connected proxy; the PeerAuthentication mode and the
             policies behind it; the AuthorizationPolicies selecting it; then each service it
             serves, as below, with the DestinationRule subsets its labels match
  service    its ports; DestinationRules (subsets, traffic policy); VirtualService routes (match,
             destinations with weights, timeout, retries, faults, mirror); RateLimits; its
             workloads and their proxies

NAME is a workload (reviews-v1, reviews-v1.default) or a service (reviews, reviews.default, the
full host); a workload wins over a service of the same name unless 'service' is given.

Example:
  trellis describe reviews-v1
  trellis describe service reviews -o json`;

/** The kinds describe reads, by the plural the config API takes. */
const KINDS: [string, string][] = [
  ['VirtualService', 'virtualservices'],
  ['DestinationRule', 'destinationrules'],
  ['PeerAuthentication', 'peerauthentications'],
  ['AuthorizationPolicy', 'authorizationpolicies'],
  ['RateLimit', 'ratelimits'],
];

export const command: Command = {
  name: 'describe',
  summary: 'Show what applies to a workload or service: routes, subsets, mTLS, authorization, rate limits.',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('describe', argv, {
      output: { type: 'string', short: 'o', default: 'text' },
      'control-plane': { type: 'string' },
    });
    let kind: 'workload' | 'service' | undefined;
    let rest = positionals;
    const first = positionals[0]?.toLowerCase();
    if (first && positionals.length === 2 && ['workload', 'wl', 'pod', 'service', 'svc'].includes(first)) {
      kind = first === 'service' || first === 'svc' ? 'service' : 'workload';
      rest = positionals.slice(1);
    }
    const [name, extra] = rest;
    if (name === undefined || extra !== undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "expected [workload|service] NAME; run 'trellis describe --help'",
      );
    }
    if (values.output !== 'text' && values.output !== 'json') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `-o ${String(values.output)}: expected text or json`,
      );
    }
    const base = controlPlaneUrl(values['control-plane'], io.env);
    const index = (await apiGet(base, '/v1/services')) as { services?: InventoryService[] } | undefined;
    const resources: Record<string, Resource[]> = {};
    const files: Record<string, string> = {};
    for (const [k, plural] of KINDS) {
      const r = await configRequest(base, 'GET', `/v1/config/${plural}`);
      // A control plane that does not know a kind (404) has none of it.
      if (r.status === 404) continue;
      if (r.status !== 200)
        throw new TrellisError('TRELLIS_IO', `GET ${base}/v1/config/${plural}: HTTP ${r.status}`);
      const body = r.json as ListResponse;
      resources[k] = body.items;
      for (const [key, file] of Object.entries(body.sources ?? {})) files[`${k}/${key}`] = file;
    }
    const result = describe(
      { services: index?.services ?? [], resources, files, proxies: await connectedProxies(base) },
      name,
      kind,
    );
    if (!result.ok) throw new TrellisError('TRELLIS_NOT_FOUND', result.message);
    io.stdout(
      values.output === 'json'
        ? JSON.stringify(result.description, null, 2) + '\n'
        : renderDescription(result.description),
    );
    return 0;
  },
};
