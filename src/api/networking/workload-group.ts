/**
 * WorkloadGroup (networking.istio.io v1): the template of workloads that register themselves
 * (VMs): `metadata` (labels and annotations given to each WorkloadEntry), `template` (a
 * WorkloadEntry without address) and `probe` (the readiness probe the workload's agent runs).
 * Validated as Istio's ValidateWorkloadGroup and CRD schema do, and stored; auto-registration
 * reads it.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { headerValueError } from '../names.js';
import { checkLabels } from './validate-common.js';
import { checkWorkloadTemplate } from './validate-service-entry.js';
import type { WorkloadEntrySpec } from './types.js';

export interface ReadinessProbe {
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  httpGet?: {
    path?: string;
    port: number;
    host?: string;
    scheme?: 'HTTP' | 'HTTPS' | '';
    httpHeaders?: { name: string; value?: string }[];
  };
  tcpSocket?: { host?: string; port: number };
  exec?: { command: string[] };
  grpc?: { port: number; service?: string };
}

export interface WorkloadGroupSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  template: Omit<WorkloadEntrySpec, 'address'> & { address?: string };
  probe?: ReadinessProbe;
}

const PROBE_METHODS = ['httpGet', 'tcpSocket', 'exec', 'grpc'] as const;
const PROBE_COUNTS = [
  'initialDelaySeconds',
  'timeoutSeconds',
  'periodSeconds',
  'successThreshold',
  'failureThreshold',
] as const;

export function validateWorkloadGroup(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const wg = c.object(spec, path, ['metadata', 'template', 'probe']);
  if (wg === undefined) {
    if (isAbsent(spec)) c.error(path, 'required: a WorkloadGroup needs a template');
    return;
  }
  const meta = c.child(wg, 'metadata', path, ['labels', 'annotations']);
  if (meta !== undefined) {
    const mp = fieldPath(path, 'metadata');
    checkLabels(c, meta, 'labels', mp);
    c.stringMap(meta, 'annotations', mp);
  }
  checkWorkloadTemplate(c, wg, 'template', path);
  checkProbe(c, wg, path);
}

function checkProbe(c: SpecCheck, wg: Obj, path: string): void {
  const probe = c.child(wg, 'probe', path, [...PROBE_COUNTS, ...PROBE_METHODS]);
  if (probe === undefined) return;
  const p = fieldPath(path, 'probe');
  for (const k of PROBE_COUNTS) c.int(probe, k, p, { min: 0 });
  const set = PROBE_METHODS.filter((k) => !isAbsent(probe[k]));
  if (set.length !== 1) {
    c.error(
      p,
      set.length === 0
        ? 'exactly one of httpGet, tcpSocket, exec, grpc is required'
        : `only one of httpGet, tcpSocket, exec, grpc may be set; found ${set.join(', ')}`,
    );
  }
  const http = c.child(probe, 'httpGet', p, ['path', 'port', 'host', 'scheme', 'httpHeaders']);
  if (http !== undefined) {
    const hp = fieldPath(p, 'httpGet');
    c.string(http, 'path', hp);
    c.port(http, 'port', hp, { required: true });
    c.string(http, 'host', hp);
    const scheme = c.string(http, 'scheme', hp);
    if (scheme !== undefined && !['', 'HTTP', 'HTTPS'].includes(scheme)) {
      c.error(fieldPath(hp, 'scheme'), `${JSON.stringify(scheme)}: expected HTTP or HTTPS`);
    }
    for (const h of c.list(http, 'httpHeaders', hp) ?? []) {
      const header = c.object(h.value, h.path, ['name', 'value']);
      if (header === undefined) {
        if (isAbsent(h.value)) c.error(h.path, 'expected a header { name, value }, got null');
        continue;
      }
      const name = c.string(header, 'name', h.path, { required: true });
      const value = c.string(header, 'value', h.path);
      // Kubernetes' probe header names: letters, digits and '-' only (as Istio checks them).
      if (name !== undefined && !/^[-A-Za-z0-9]+$/.test(name)) {
        c.error(
          fieldPath(h.path, 'name'),
          `${JSON.stringify(name)}: a probe header name has letters, digits and '-' only`,
        );
      }
      const err = value !== undefined ? headerValueError(value) : undefined;
      if (err !== undefined) c.error(fieldPath(h.path, 'value'), err);
    }
  }
  const tcp = c.child(probe, 'tcpSocket', p, ['host', 'port']);
  if (tcp !== undefined) {
    c.string(tcp, 'host', fieldPath(p, 'tcpSocket'));
    c.port(tcp, 'port', fieldPath(p, 'tcpSocket'), { required: true });
  }
  const exec = c.child(probe, 'exec', p, ['command']);
  if (exec !== undefined)
    c.stringList(exec, 'command', fieldPath(p, 'exec'), { required: true, nonEmpty: true });
  const grpc = c.child(probe, 'grpc', p, ['port', 'service']);
  if (grpc !== undefined) {
    c.port(grpc, 'port', fieldPath(p, 'grpc'), { required: true });
    c.string(grpc, 'service', fieldPath(p, 'grpc'));
  }
}
