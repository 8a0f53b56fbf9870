/**
 * `trellis up --otlp URL`: the shortcut for what an Istio user writes to send traces to an
 * OpenTelemetry collector (pure, table-tested):
 *
 * - an `opentelemetry` extension provider named `otlp` for the collector, exporting over
 *   OTLP/HTTP (`http://host:port/v1/traces`) or OTLP/gRPC (`grpc://host:port`);
 * - that provider as the default tracing provider, at 100% sampling, unless the mesh config
 *   names its own default tracing provider or sampling (the mesh config wins);
 * - a ServiceEntry for the collector (`otlp-collector` in the root namespace, MESH_EXTERNAL,
 *   DNS for a name, STATIC for an address) so proxies have a cluster for it, as Istio's
 *   providers must name a service of the registry.
 */
import { isIPAddress } from '../../api/hosts.js';
import { parseAndValidate } from '../../api/parse.js';
import type { Resource } from '../../api/resource.js';
import type { MeshTelemetry, OpenTelemetryProvider } from '../../api/telemetry/mesh-telemetry.js';
import { formatProblem, TrellisError } from '../../core/errors.js';

export const OTLP_PROVIDER = 'otlp';
export const OTLP_SERVICE_ENTRY = 'otlp-collector';
/** The host proxies name the collector by when the URL gives an address. */
export const OTLP_ADDRESS_HOST = 'otlp-collector.trellis.local';

export interface OtlpTarget {
  protocol: 'http' | 'grpc';
  host: string;
  port: number;
  /** OTLP/HTTP only: the traces path. */
  path: string;
}

function invalid(message: string): TrellisError {
  return new TrellisError('TRELLIS_INVALID_ARGUMENT', `--otlp: ${message}`);
}

export function parseOtlpUrl(text: string): OtlpTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(
      `${JSON.stringify(text)} is not a URL; expected http://HOST:PORT/v1/traces or grpc://HOST:PORT`,
    );
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme === 'https' || scheme === 'grpcs')
    throw invalid(
      `TLS to the collector is not supported; use http://${url.host}${url.pathname} or grpc://${url.host}`,
    );
  if (scheme !== 'http' && scheme !== 'grpc')
    throw invalid(
      `unknown scheme ${JSON.stringify(scheme)}; expected http://HOST:PORT/v1/traces or grpc://HOST:PORT`,
    );
  if (url.username !== '' || url.search !== '' || url.hash !== '')
    throw invalid('credentials, query and fragment are not supported; give scheme, host, port and path only');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw invalid('the URL needs a host');
  const port = url.port === '' ? (scheme === 'grpc' ? 4317 : 4318) : Number(url.port);
  if (scheme === 'grpc' && url.pathname !== '' && url.pathname !== '/')
    throw invalid('an OTLP/gRPC URL has no path; use grpc://HOST:PORT');
  const path = scheme === 'http' && url.pathname !== '/' && url.pathname !== '' ? url.pathname : '/v1/traces';
  return { protocol: scheme, host, port, path };
}

/** The mesh telemetry with the collector as provider (and default, unless the mesh config says). */
export function otlpTelemetry(mesh: MeshTelemetry, target: OtlpTarget): MeshTelemetry {
  const service = isIPAddress(target.host) ? OTLP_ADDRESS_HOST : target.host;
  const provider: OpenTelemetryProvider = {
    name: OTLP_PROVIDER,
    kind: 'opentelemetry',
    service,
    port: target.port,
    ...(target.protocol === 'http' ? { http: { path: target.path, headers: [] } } : {}),
  };
  if (mesh.providers.some((p) => p.name === OTLP_PROVIDER))
    throw invalid(
      `the mesh config already defines an extension provider named ${JSON.stringify(OTLP_PROVIDER)}; rename it or drop --otlp`,
    );
  const ownDefault = mesh.defaultProviders.tracing.length > 0;
  return {
    ...mesh,
    providers: [...mesh.providers, provider],
    defaultProviders: ownDefault
      ? mesh.defaultProviders
      : { ...mesh.defaultProviders, tracing: [OTLP_PROVIDER] },
    tracingSampling: mesh.tracingSamplingSet === true ? mesh.tracingSampling : 100,
  };
}

/** The ServiceEntry that gives proxies a cluster for the collector. */
export function otlpServiceEntry(target: OtlpTarget, rootNamespace = 'istio-system'): Resource {
  const address = isIPAddress(target.host);
  const host = address ? OTLP_ADDRESS_HOST : target.host;
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${OTLP_SERVICE_ENTRY}, namespace: ${rootNamespace} }
spec:
  hosts: [${JSON.stringify(host)}]
  location: MESH_EXTERNAL
  resolution: ${address ? 'STATIC' : 'DNS'}
  ports: [{ number: ${target.port}, name: ${target.protocol === 'grpc' ? 'grpc-otlp' : 'http-otlp'}, protocol: ${target.protocol === 'grpc' ? 'GRPC' : 'HTTP'} }]
  endpoints: [{ address: ${JSON.stringify(target.host)} }]
`;
  const [doc] = parseAndValidate(yaml, '--otlp');
  const errors = doc?.problems.filter((p) => p.severity === 'error') ?? [];
  if (doc?.resource === undefined || errors.length > 0)
    throw invalid(
      `the collector ${JSON.stringify(target.host)} cannot be a ServiceEntry: ${errors.map(formatProblem).join('; ')}`,
    );
  return doc.resource;
}
