/**
 * Two sidecars with mesh mTLS between them (imported by tests only): a client proxy
 * (`productpage`, outbound capture, cluster `outbound|9080||reviews...` with Istio's auto mTLS)
 * and a server proxy (`reviews`, an inbound listener bound on an ephemeral port, STRICT or
 * PERMISSIVE, forwarding to the app). Each gets its own workload certificate source; tests
 * rotate them, change the trust bundle, and read both proxies' logs and stats.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../../core/testing/eventually.js';
import { staticCertificateSource, type WorkloadCertificate } from '../identity/workload-certificate.js';
import type { TrellisProxy } from '../proxy.js';
import type { ProxyBootstrap } from '../xds-client/bootstrap.js';
import { FakeAds } from './fake-ads.js';
import { startBackend, startMesh, type Backend } from './harness.js';
import {
  appCluster,
  autoMtls,
  CertificateAuthority,
  inboundListener,
  istioMutual,
  meshEndpoints,
  workloadCertificate,
} from './mesh-tls.js';
import { TYPE, packAny } from '../../protocol/protos.js';
import { edsCluster, h2Options, httpListener, routeConfig, routeTo, virtualHost } from './resources.js';

export const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
export const INBOUND = 'inbound|9080||';
export const INBOUND_LISTENER = 'virtualInbound_0';
export const TCP_OUTBOUND = 'tcp_outbound';
export const ACCESS_FORMAT =
  '%RESPONSE_CODE% %RESPONSE_FLAGS% peer=%DOWNSTREAM_PEER_URI_SAN% local=%DOWNSTREAM_LOCAL_URI_SAN% tls=%DOWNSTREAM_TLS_VERSION% upstream_failure=%UPSTREAM_TRANSPORT_FAILURE_REASON% attempts=%UPSTREAM_REQUEST_ATTEMPT_COUNT%\n';

export interface Sidecars {
  ca: CertificateAuthority;
  client: TrellisProxy;
  server: TrellisProxy;
  clientAds: FakeAds;
  serverAds: FakeAds;
  clientCerts: ReturnType<typeof staticCertificateSource>;
  serverCerts: ReturnType<typeof staticCertificateSource>;
  backend: Backend;
  /** The client sidecar's outbound capture port. */
  outboundPort: number;
  /** The server sidecar's inbound listener port. */
  inboundPort: number;
  /** Access log lines of the server's inbound listener and of the client's outbound listener. */
  serverLog(): string[];
  clientLog(): string[];
}

export interface SidecarOptions {
  mode?: 'STRICT' | 'PERMISSIVE';
  /** The upstream TLS context of the client's cluster (istioMutual() by default). */
  upstreamTls?: object;
  http2?: boolean;
  kind?: 'http' | 'tcp';
  /** Client cluster fields (retry policies live on routes: see routeAction). */
  routeAction?: object;
  ca?: CertificateAuthority;
  clientCert?: WorkloadCertificate;
  serverCert?: WorkloadCertificate;
  /** More fields of the server's inbound HttpConnectionManager. */
  inboundHcm?: Record<string, unknown>;
  /** More fields of the client's outbound HttpConnectionManager. */
  outboundHcm?: Record<string, unknown>;
  /** The proxies' node identities (both are productpage-v1 by default). */
  clientBootstrap?: ProxyBootstrap;
  serverBootstrap?: ProxyBootstrap;
  /** The server endpoint's tlsMode in the client's EDS (`istio` by default: auto mTLS). */
  tlsMode?: 'istio' | 'disabled';
  /** The server endpoint's `istio` filter metadata in the client's EDS (`workload`, `app`). */
  endpointIstio?: Record<string, string>;
}

export async function startSidecars(
  t: { after(fn: () => Promise<void>): void },
  opts: SidecarOptions = {},
): Promise<Sidecars> {
  const ca = opts.ca ?? (await CertificateAuthority.create());
  const clientCerts = staticCertificateSource(
    opts.clientCert ?? (await workloadCertificate(ca, 'productpage')),
  );
  const serverCerts = staticCertificateSource(opts.serverCert ?? (await workloadCertificate(ca, 'reviews')));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-mtls-'));
  const serverLogPath = path.join(dir, 'server.log');
  const clientLogPath = path.join(dir, 'client.log');
  const backend = await startBackend('reviews');
  const kind = opts.kind ?? 'http';
  const server = await startMesh(
    {
      CDS: [appCluster(INBOUND, backend.port)],
      LDS: [
        inboundListener(0, INBOUND, {
          mode: opts.mode ?? 'STRICT',
          kind,
          accessLog: { path: serverLogPath, format: ACCESS_FORMAT },
          ...(opts.inboundHcm ? { hcm: opts.inboundHcm } : {}),
        }),
      ],
    },
    {
      bindListeners: [0],
      workloadCertificates: serverCerts,
      ...(opts.serverBootstrap ? { bootstrap: opts.serverBootstrap } : {}),
    },
    FakeAds,
  );
  const inboundPort = await eventually(
    () => server.proxy.listeners.ports.byListener.get(INBOUND_LISTENER) ?? false,
    'inbound bound',
  );
  const cluster = edsCluster(REVIEWS, {
    ...autoMtls(opts.upstreamTls ?? istioMutual({ http2: opts.http2 === true })),
    ...(opts.http2 ? h2Options() : {}),
  });
  const client = await startMesh(
    {
      CDS: [cluster],
      EDS: [
        meshEndpoints(REVIEWS, [
          {
            port: inboundPort,
            tlsMode: opts.tlsMode ?? 'istio',
            ...(opts.endpointIstio ? { istio: opts.endpointIstio } : {}),
          },
        ]),
      ],
      LDS: [
        kind === 'tcp'
          ? tcpOutbound(clientLogPath)
          : httpListener(9080, '9080', {
              hcm: {
                access_log: [
                  {
                    name: 'envoy.access_loggers.file',
                    typed_config: fileLog(clientLogPath),
                  },
                ],
                ...opts.outboundHcm,
              },
            }),
      ],
      ...(kind === 'http'
        ? {
            RDS: [
              routeConfig('9080', [
                virtualHost(
                  'reviews',
                  ['reviews:9080'],
                  [routeTo(REVIEWS, undefined, opts.routeAction ?? {})],
                ),
              ]),
            ],
          }
        : {}),
    },
    {
      workloadCertificates: clientCerts,
      ...(kind === 'tcp' ? { bindListeners: [0] } : {}),
      ...(opts.clientBootstrap ? { bootstrap: opts.clientBootstrap } : {}),
    },
    FakeAds,
  );
  const outboundPort =
    kind === 'tcp'
      ? await eventually(
          () => client.proxy.listeners.ports.byListener.get(TCP_OUTBOUND) ?? false,
          'tcp outbound bound',
        )
      : client.port;
  const read = (p: string) => () =>
    fs.existsSync(p)
      ? fs
          .readFileSync(p, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
  t.after(async () => {
    await client.close();
    await server.close();
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    ca,
    client: client.proxy,
    server: server.proxy,
    clientAds: client.ads,
    serverAds: server.ads,
    clientCerts,
    serverCerts,
    backend,
    outboundPort,
    inboundPort,
    serverLog: read(serverLogPath),
    clientLog: read(clientLogPath),
  };
}

function fileLog(p: string): object {
  return packAny(TYPE.fileAccessLog, {
    path: p,
    log_format: { text_format_source: { inline_string: ACCESS_FORMAT } },
  });
}

/** The client's TCP listener (bound on an ephemeral port): a TCP proxy to the reviews cluster. */
function tcpOutbound(logPath: string): object {
  return {
    name: TCP_OUTBOUND,
    address: { socket_address: { address: '0.0.0.0', port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: packAny(TYPE.tcpProxy, {
              stat_prefix: REVIEWS,
              cluster: REVIEWS,
              access_log: [{ name: 'envoy.access_loggers.file', typed_config: fileLog(logPath) }],
            }),
          },
        ],
      },
    ],
  };
}
