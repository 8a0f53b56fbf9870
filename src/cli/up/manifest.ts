/**
 * Loading the Mesh manifest: `trellis up DIR` reads DIR/mesh.yaml (or a file given directly),
 * validates it like every other resource and fills in the defaults, so the rest of `up` works
 * on a complete, frozen description.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadFile } from '../../api/parse.js';
import type { MeshPort, MeshProtocol, MeshSpec } from '../../api/trellis/mesh.js';
import { TrellisError, formatProblem } from '../../core/errors.js';

export interface WorkloadPlan {
  name: string;
  service: string;
  namespace: string;
  /** Its identity: spiffe://<trust-domain>/ns/<namespace>/sa/<serviceAccount>. Default: the service. */
  serviceAccount: string;
  /** The manifest's labels plus `trellis.io/workload: NAME`, which its Sidecar selects. */
  labels: Record<string, string>;
  ports: { name: string; port: number; protocol: MeshProtocol }[];
  command: string[];
  /** Absolute. */
  workingDir: string;
  env: Record<string, string>;
}

export interface MeshPlan {
  /** The manifest file, absolute. */
  file: string;
  name: string;
  /** Directory of Istio/Trellis YAML, absolute. */
  configDir: string;
  gateway?: {
    name: string;
    namespace: string;
    port: number;
    hosts: string[];
    labels: Record<string, string>;
    /** The gateway's identity, as Istio's ingress gateway: istio-ingressgateway-service-account. */
    serviceAccount: string;
  };
  workloads: WorkloadPlan[];
}

export const WORKLOAD_LABEL = 'trellis.io/workload';
/** Istio's label on workloads whose sidecar accepts Istio mTLS; auto mTLS sends mTLS to them. */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
export const GATEWAY_SERVICE_ACCOUNT = 'istio-ingressgateway-service-account';

/** `target` is a directory holding mesh.yaml or the manifest file itself. */
export async function loadMesh(target: string, cwd: string): Promise<MeshPlan> {
  const abs = path.resolve(cwd, target);
  const st = await stat(abs).catch(() => undefined);
  if (st === undefined) throw new TrellisError('TRELLIS_NOT_FOUND', `${target}: no such file or directory`);
  const file = st.isDirectory() ? path.join(abs, 'mesh.yaml') : abs;
  const docs = await loadFile(file);
  const meshes = docs.filter((d) => d.ref?.kind === 'Mesh' || d.resource?.kind === 'Mesh');
  const rel = path.relative(cwd, file) || file;
  const errors = docs.flatMap((d) =>
    d.problems
      .filter((p) => p.severity === 'error')
      .map((p) => `${rel}:${d.source.doc}: ${formatProblem(p)}`),
  );
  if (errors.length > 0) {
    throw new TrellisError('TRELLIS_INVALID_CONFIG', `invalid mesh manifest:\n  ${errors.join('\n  ')}`, {
      file,
    });
  }
  if (meshes.length !== 1 || meshes[0]?.resource === undefined) {
    throw new TrellisError(
      'TRELLIS_INVALID_CONFIG',
      `${rel}: expected exactly one document of kind Mesh (apiVersion trellis.io/v1alpha1), found ${meshes.length}`,
      { file },
    );
  }
  const resource = meshes[0].resource;
  return planFromSpec(file, resource.metadata.name, resource.metadata.namespace, resource.spec as MeshSpec);
}

/** Fills in defaults; the spec has passed validateMesh. */
export function planFromSpec(file: string, name: string, namespace: string, spec: MeshSpec): MeshPlan {
  const base = path.dirname(file);
  const portsOf = (ports: MeshPort[]) =>
    ports.map((p) => ({ name: p.name ?? p.protocol, port: p.port, protocol: p.protocol }));
  const plan: MeshPlan = {
    file,
    name,
    configDir: path.resolve(base, spec.config ?? 'config'),
    workloads: spec.workloads.map((w) => ({
      name: w.name,
      service: w.service,
      namespace: w.namespace ?? 'default',
      serviceAccount: w.serviceAccount ?? w.service,
      labels: { ...w.labels, [WORKLOAD_LABEL]: w.name },
      ports: portsOf(w.ports),
      command: [...w.command],
      workingDir: path.resolve(base, w.workingDir ?? '.'),
      env: { ...w.env },
    })),
  };
  if (spec.gateway) {
    plan.gateway = {
      name: spec.gateway.name,
      namespace,
      port: spec.gateway.port ?? 8080,
      hosts: spec.gateway.hosts ?? ['*'],
      labels: spec.gateway.labels ?? { istio: 'ingressgateway' },
      serviceAccount: GATEWAY_SERVICE_ACCOUNT,
    };
  }
  return plan;
}
