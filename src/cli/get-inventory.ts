/** `trellis get services|workloads|endpoints`: fetch the service index (and proxies), print. */
import { stringify } from 'yaml';
import { TrellisError } from '../core/errors.js';
import type { CommandIo } from './command.js';
import { connectedProxies } from './connected-proxies.js';
import { apiGet } from './http-client.js';
import {
  endpointRows,
  renderEndpoints,
  renderServices,
  renderWorkloads,
  selectServices,
  workloadRows,
  type InventoryKind,
  type InventoryService,
} from './mesh-inventory.js';

export async function printInventory(
  kind: InventoryKind,
  name: string | undefined,
  opts: {
    base: string;
    namespace: string | undefined;
    output: 'table' | 'wide' | 'yaml' | 'json';
    io: CommandIo;
  },
): Promise<number> {
  const { base, namespace, output, io } = opts;
  const body = (await apiGet(base, '/v1/services')) as { services?: InventoryService[] } | undefined;
  if (!Array.isArray(body?.services)) {
    throw new TrellisError(
      'TRELLIS_IO',
      `${base}/v1/services did not answer a service list; is this a Trellis control plane?`,
    );
  }
  const services = body.services;
  const q = { namespace, ...(name !== undefined ? { name } : {}) };
  const table = { allNamespaces: namespace === undefined, wide: output === 'wide' };
  let rows: object[];
  let text: string;
  switch (kind) {
    case 'services': {
      const r = selectServices(services, q);
      rows = r;
      text = renderServices(r, table);
      break;
    }
    case 'endpoints': {
      const r = endpointRows(services, q);
      rows = r;
      text = renderEndpoints(r, table);
      break;
    }
    case 'workloads': {
      const r = workloadRows(services, await connectedProxies(base), q);
      rows = r;
      text = renderWorkloads(r, table);
      break;
    }
  }
  const where = namespace === undefined ? '' : ` in namespace ${namespace}`;
  const hint = namespace === undefined ? '' : ' (every namespace: -A)';
  if (rows.length === 0 && name !== undefined) {
    throw new TrellisError(
      'TRELLIS_NOT_FOUND',
      `no ${kind.replace(/s$/, '')} ${JSON.stringify(name)}${where}${hint}; list them with 'trellis get ${kind}${namespace === undefined ? ' -A' : ''}'`,
    );
  }
  if (output === 'json') io.stdout(JSON.stringify({ kind, items: rows }, null, 2) + '\n');
  else if (output === 'yaml') io.stdout(stringify({ kind, items: rows }));
  else if (rows.length > 0) io.stdout(text);
  else io.stderr(`No ${kind} found${where}${hint}.\n`);
  return 0;
}
