/**
 * Mesh (`trellis.io/v1alpha1`): what `trellis up` runs on one machine. It names the workloads
 * (processes with their service, labels and ports), the ingress gateway, and the directory of
 * Istio/Trellis YAML that configures traffic.
 *
 * ```yaml
 * apiVersion: trellis.io/v1alpha1
 * kind: Mesh
 * metadata: { name: bookinfo }
 * spec:
 *   config: config                  # directory of Istio/Trellis YAML, relative to this file
 *   gateway:                        # optional: the ingress gateway `up` starts
 *     name: bookinfo-gateway        # the Gateway resource `up` creates; VirtualServices bind to it
 *     port: 8080                    # `trellis up --gateway-port` overrides it (0: a free port)
 *     hosts: ["*"]
 *     labels: { istio: ingressgateway }   # the default
 *   workloads:
 *   - name: reviews-v2              # DNS label, unique in the mesh
 *     service: reviews              # instances of a service share its ports
 *     namespace: default            # the default
 *     serviceAccount: reviews       # its identity spiffe://cluster.local/ns/default/sa/reviews;
 *                                   # default: the service name
 *     labels: { app: reviews, version: v2 }
 *     ports: [{ port: 9080, protocol: http }]   # http | http2 | grpc | tcp; name defaults to protocol
 *     command: [node, --import, tsx, services/reviews.ts]
 *     workingDir: .                 # relative to this file
 *     env: { STAR_COLOR: black }
 * ```
 *
 * A workload is given `PORT` (where it must listen) and `HTTP_PROXY`/`http_proxy` (its sidecar)
 * on top of `env`; see src/cli/up/mesh-runner.ts for how traffic flows.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { dns1123LabelError, dns1123SubdomainError } from '../names.js';
import { checkHost, checkLabels, checkName } from '../networking/validate-common.js';

export const MESH_PROTOCOLS = ['http', 'http2', 'grpc', 'tcp'] as const;
export type MeshProtocol = (typeof MESH_PROTOCOLS)[number];

export interface MeshPort {
  port: number;
  protocol: MeshProtocol;
  /** Service port name; defaults to the protocol. */
  name?: string;
}

export interface MeshWorkload {
  name: string;
  service: string;
  namespace?: string;
  /** The workload's identity (SPIFFE `sa` segment, a Kubernetes service account name); default `service`. */
  serviceAccount?: string;
  labels?: Record<string, string>;
  ports: MeshPort[];
  command: string[];
  workingDir?: string;
  env?: Record<string, string>;
}

export interface MeshGateway {
  name: string;
  port?: number;
  hosts?: string[];
  labels?: Record<string, string>;
}

export interface MeshSpec {
  config?: string;
  gateway?: MeshGateway;
  workloads: MeshWorkload[];
}

const FIELDS = ['config', 'gateway', 'workloads'] as const;
const GATEWAY_FIELDS = ['name', 'port', 'hosts', 'labels'] as const;
const WORKLOAD_FIELDS = [
  'name',
  'service',
  'namespace',
  'serviceAccount',
  'labels',
  'ports',
  'command',
  'workingDir',
  'env',
] as const;
const PORT_FIELDS = ['port', 'protocol', 'name'] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Set by `up` itself; a manifest that sets them would be silently overridden. */
const RESERVED_ENV = new Set(['PORT', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']);

export function validateMesh(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const mesh = c.object(spec, path, FIELDS);
  if (mesh === undefined) {
    c.error(path, 'required: a Mesh needs spec.workloads');
    return;
  }
  c.string(mesh, 'config', path);
  checkGateway(c, mesh, path);

  const names = new Set<string>();
  /** Ports of each service (namespace/service), from its first workload. */
  const servicePorts = new Map<string, { key: string; path: string }>();
  for (const item of c.list(mesh, 'workloads', path, { required: true, nonEmpty: true }) ?? []) {
    const w = c.object(item.value, item.path, WORKLOAD_FIELDS);
    if (w === undefined) {
      if (isAbsent(item.value))
        c.error(item.path, 'expected a workload with name, service, ports and command');
      continue;
    }
    const name = c.string(w, 'name', item.path, { required: true });
    if (name !== undefined) {
      const p = fieldPath(item.path, 'name');
      if (names.has(name)) c.error(p, `duplicate workload name ${JSON.stringify(name)}`);
      names.add(name);
      checkName(c, name, p, dns1123LabelError);
    }
    const service = c.string(w, 'service', item.path, { required: true });
    if (service !== undefined) checkName(c, service, fieldPath(item.path, 'service'), dns1123LabelError);
    const namespace = c.string(w, 'namespace', item.path) ?? 'default';
    checkName(c, namespace, fieldPath(item.path, 'namespace'), dns1123LabelError);
    // A Kubernetes service account name (DNS-1123 subdomain), which is also a SPIFFE path segment.
    const serviceAccount = c.string(w, 'serviceAccount', item.path);
    if (serviceAccount !== undefined)
      checkName(c, serviceAccount, fieldPath(item.path, 'serviceAccount'), dns1123SubdomainError);
    checkLabels(c, w, 'labels', item.path);
    const ports = checkPorts(c, w, item.path);
    if (service !== undefined && ports !== undefined) {
      const svcKey = `${namespace}/${service}`;
      const first = servicePorts.get(svcKey);
      if (first === undefined) servicePorts.set(svcKey, { key: ports, path: item.path });
      else if (first.key !== ports) {
        c.error(
          fieldPath(item.path, 'ports'),
          `service ${service} has other ports in ${first.path} (${first.key}); every instance of a service must declare the same ports`,
        );
      }
    }
    const command = c.stringList(w, 'command', item.path, { required: true, nonEmpty: true });
    if (command !== undefined && command[0] !== undefined && command[0].value === '') {
      c.error(command[0].path, 'the program to run must not be empty');
    }
    c.string(w, 'workingDir', item.path);
    for (const [k] of c.stringMap(w, 'env', item.path) ?? []) {
      const p = fieldPath(fieldPath(item.path, 'env'), k);
      if (!ENV_NAME.test(k)) c.error(p, 'expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
      else if (RESERVED_ENV.has(k)) c.error(p, `${k} is set by trellis up (the app port and its sidecar)`);
    }
  }
}

function checkGateway(c: SpecCheck, mesh: Obj, path: string): void {
  const g = c.child(mesh, 'gateway', path, GATEWAY_FIELDS);
  if (g === undefined) return;
  const gp = fieldPath(path, 'gateway');
  const name = c.string(g, 'name', gp, { required: true });
  if (name !== undefined) checkName(c, name, fieldPath(gp, 'name'), dns1123LabelError);
  c.port(g, 'port', gp);
  for (const h of c.stringList(g, 'hosts', gp, { nonEmpty: true }) ?? []) {
    if (h.value !== '*') checkHost(c, h.value, h.path);
  }
  const labels = checkLabels(c, g, 'labels', gp);
  if (!isAbsent(g.labels) && labels.size === 0)
    c.error(fieldPath(gp, 'labels'), 'must have at least one label');
}

/** Checks the ports; returns a canonical description to compare instances, or undefined. */
function checkPorts(c: SpecCheck, w: Obj, path: string): string | undefined {
  const seen = new Set<number>();
  const seenNames = new Set<string>();
  const out: string[] = [];
  for (const item of c.list(w, 'ports', path, { required: true, nonEmpty: true }) ?? []) {
    const p = c.object(item.value, item.path, PORT_FIELDS);
    if (p === undefined) {
      if (isAbsent(item.value)) c.error(item.path, 'expected { port, protocol }');
      continue;
    }
    const port = c.port(p, 'port', item.path, { required: true });
    const protocol = c.enumValue(p, 'protocol', item.path, MESH_PROTOCOLS, { required: true });
    const name = c.string(p, 'name', item.path) ?? protocol;
    if (port !== undefined) {
      if (seen.has(port)) c.error(fieldPath(item.path, 'port'), `port ${port} is declared twice`);
      seen.add(port);
    }
    if (name !== undefined) {
      const np = fieldPath(item.path, 'name');
      checkName(c, name, np, dns1123LabelError);
      if (seenNames.has(name))
        c.error(np, `port name ${JSON.stringify(name)} is used twice; give each port a name`);
      seenNames.add(name);
    }
    out.push(`${name ?? '?'}:${port ?? '?'}/${protocol ?? '?'}`);
  }
  return out.join(',');
}
