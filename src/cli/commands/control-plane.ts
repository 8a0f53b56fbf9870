import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { TrellisError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { parseAndValidate } from '../../api/parse.js';
import { DirectoryConfigStore } from '../../config/directory-store.js';
import { DEFAULT_STATE_DIR_NAME } from '../../config/last-good-state.js';
import { ControlPlane } from '../../controlplane/control-plane.js';
import { tryParseDuration } from '../../core/duration.js';
import type { Command } from '../command.js';
import { parseAddress, parseFlags, parseIntFlag } from '../args.js';
import { parsePrometheusUrl } from '../prometheus-url.js';
import { untilSignal } from '../signals.js';
import { loadMeshConfig } from '../mesh-config.js';
import { loadCaState } from '../../controlplane/ca-service-state.js';
import { DEFAULT_MAX_WORKLOAD_TTL_SECONDS } from '../../controlplane/ca-service.js';
import { AUDIT_FILE, loadConsoleTokens } from '../console-tokens.js';
import { EtcdConfigStore } from '../../config/etcd-store.js';
import { parseEtcdUrl } from '../../config/etcd-keys.js';
import { describeEndpoints } from '../../config/etcd-client.js';
import type { ConfigStore } from '../../config/store.js';

/** --store: etcd://HOST:PORT[,HOST:PORT...] or dir://DIR (what --config DIR means). */
export function parseStoreFlag(
  value: string,
): { kind: 'etcd'; endpoints: string[] } | { kind: 'dir'; dir: string } {
  if (value.startsWith('etcd://')) {
    try {
      return { kind: 'etcd', endpoints: parseEtcdUrl(value) };
    } catch (err) {
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--store ${(err as Error).message}`);
    }
  }
  if (value.startsWith('dir://') && value.length > 'dir://'.length)
    return { kind: 'dir', dir: value.slice('dir://'.length) };
  throw new TrellisError(
    'TRELLIS_INVALID_ARGUMENT',
    `--store ${JSON.stringify(value)}: expected etcd://HOST:PORT[,HOST:PORT...] (config and registrations in etcd, shared by replicas) or dir://DIR (a directory of Istio YAML, as --config DIR)`,
  );
}

/** --secure-port: a port, 0 for any free one, or off. */
function parseSecurePort(value: string): number | undefined {
  if (value === 'off') return undefined;
  const port = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535))
    throw new TrellisError(
      'TRELLIS_INVALID_ARGUMENT',
      `--secure-port ${JSON.stringify(value)}: expected a port (15012), 0 for any free port, or off`,
    );
  return port;
}

export const command: Command = {
  name: 'control-plane',
  summary: 'Run the control plane: watch a directory of Istio YAML and serve xDS v3 to proxies.',
  usage: [
    'Usage: trellis control-plane --config DIR | --store etcd://HOST:PORT[,HOST:PORT...] | --store dir://DIR',
    '                             [--xds-address 127.0.0.1:15010 | --xds-port N]',
    '                             [--http-address 127.0.0.1:15014 | --http-port N]',
    '                             [--debounce 100ms] [--debounce-max 10s] [--push-concurrency 32]',
    '                             [--ratelimit-address 127.0.0.1:8081] [--state-dir DIR/.trellis-state]',
    '                             [--trust-domain cluster.local] [--ca-dir DIR] [--workload-cert-ttl 24h]',
    '                             [--max-workload-cert-ttl 2160h] [--trusted-roots FILE]',
    '                             [--secure-port 15012|0|off] [--secure-san NAME]...',
    '                             [--console-tokens FILE]',
    '                             [--prometheus-url URL]',
    '',
    'Serves Envoy xDS v3 (ADS, state of the world and delta) to the Trellis proxy, proxyless gRPC',
    'and Envoy. Edits to DIR take effect without restart; an invalid edit is logged with its',
    'file:doc: path and the last good config keeps serving.',
    '',
    'HTTP: /ready, /metrics, /debug/syncz, /debug/config_dump?proxy=ID, /debug/config_errors,',
    '      /debug/registry, /v1/registrations (register, heartbeat, deregister),',
    '      /v1/ratelimit/config (RateLimit resources compiled for `trellis ratelimit --control-plane`),',
    '      /v1/graph (the service graph: `trellis graph`), from the control plane scraping every',
    "      proxy's /stats/prometheus every 5 s, or from the Prometheus at --prometheus-url URL.",
    '',
    '--xds-port N and --http-port N mean 127.0.0.1:N (0: any free port; see trellis help flags).',
    'Writes through /v1 (apply, delete, registrations) from another machine (--http-address 0.0.0.0:N)',
    '  need an editor token from --console-tokens (Authorization: Bearer); without it they are refused.',
    '--ratelimit-address is where proxies reach the global rate limit service.',
    "--mesh-config FILE is Istio's MeshConfig YAML (the `mesh` key of the istio ConfigMap), taken",
    '  unchanged; Trellis applies pathNormalization (default BASE) and logs the fields it does not.',
    '',
    'Replicas: --store etcd://HOST:PORT,... keeps config (one key per resource under',
    '/trellis/config/) and registrations (under leases with their TTL) in etcd, so several control',
    'planes on one etcd serve the same mesh: an apply, registration or heartbeat through any of them',
    'is seen by all, and a registration expires once. etcd unreachable: each replica keeps serving',
    'its last state (also across a restart, from --state-dir), refuses writes with',
    'TRELLIS_STORE_UNAVAILABLE (HTTP 503), and catches up by revision when etcd returns. Give',
    'replicas one CA with --ca-dir (plug-in files), or their workloads will not trust each other.',
    '',
    '--state-dir keeps the last accepted version of every config file (default: .trellis-state',
    'inside the config directory; dot-entries are never read as config). After a restart, a file',
    'that is invalid serves that version instead of losing its resources; the log and',
    '/debug/config_errors say so (servingLastGood, lastGoodFrom). A file deleted while the control',
    'plane is down is dropped from the state too.',
    '',
    'Certificate authority, on the xDS port (trellis.ca.v1.CertificateService/CreateCertificate):',
    'proxies send a CSR with a credential the control plane issued (`trellis up` provisions one per',
    'workload; `trellis token create` makes join tokens) and get a SPIFFE certificate',
    'spiffe://TRUST-DOMAIN/ns/NS/sa/SA. The CA is self-provisioned (a root and an intermediate) and',
    "kept in STATE-DIR/ca in Istio's plug-in layout, with the credential signing key beside it, so a",
    "restart keeps both; --ca-dir DIR uses Istio's plug-in files instead (ca-cert.pem, ca-key.pem,",
    'cert-chain.pem, root-cert.pem). --workload-cert-ttl is the default certificate lifetime (Istio:',
    '24h; seconds for tests), --max-workload-cert-ttl the longest a proxy may ask for.',
    '--trusted-roots FILE adds PEM roots to the trust bundle proxies get with their certificates',
    '(a root rotation: the next root before switching to it, the old one after).',
    '',
    "xDS and the CA over TLS, as istiod's port 15012: --secure-port PORT (default 15012 on the",
    '--xds-address host, or a free port when that one is :0; 0 picks a free port; off: plaintext',
    'only) serves the same gRPC services',
    'with a certificate this CA signs for istiod.istio-system.svc, trellis-control-plane,',
    'localhost, 127.0.0.1, ::1 and each --secure-san NAME (a DNS name or an IP address, repeatable:',
    'the names remote hosts dial), renewed at half its life without dropping streams. Proxies',
    'verify it with `trellis proxy --xds-root-ca FILE` (the root: `trellis token create',
    '--root-cert-out FILE` writes it, or STATE-DIR/ca/root-cert.pem).',
    '',
    'The console (a web application) is served at http://HTTP-ADDRESS/console/. --console-tokens FILE',
    'lists who may log in, in Kubernetes\' --token-auth-file format: token,user,uid,"groups" a line;',
    'the group trellis:editors may change traffic settings, trellis:viewers may look. Without it',
    'nobody can log in. Every change made through the console is appended to',
    'STATE-DIR/console-audit.jsonl with who made it.',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseFlags('control-plane', argv, {
      config: { type: 'string' },
      store: { type: 'string' },
      'xds-address': { type: 'string', default: '127.0.0.1:15010', address: true, portAlias: 'xds-port' },
      'http-address': { type: 'string', default: '127.0.0.1:15014', address: true, portAlias: 'http-port' },
      debounce: { type: 'string', default: '100ms' },
      'debounce-max': { type: 'string', default: '10s' },
      'push-concurrency': { type: 'string' },
      'ratelimit-address': { type: 'string', default: '127.0.0.1:8081', address: true, connect: true },
      'mesh-config': { type: 'string' },
      'state-dir': { type: 'string' },
      'trust-domain': { type: 'string', default: 'cluster.local' },
      'ca-dir': { type: 'string' },
      'workload-cert-ttl': { type: 'string', default: '24h' },
      'max-workload-cert-ttl': { type: 'string', default: `${DEFAULT_MAX_WORKLOAD_TTL_SECONDS / 3600}h` },
      'trusted-roots': { type: 'string' },
      'secure-port': { type: 'string' },
      'secure-san': { type: 'string', multiple: true, default: [] },
      'console-tokens': { type: 'string' },
      'prometheus-url': { type: 'string' },
    });
    const prometheusUrl = parsePrometheusUrl(values['prometheus-url']);
    const storeFlag = values.store !== undefined ? parseStoreFlag(values.store) : undefined;
    if (storeFlag && values.config !== undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        '--config and --store both name where config comes from: give one (--store dir://DIR is --config DIR)',
      );
    const configDir = storeFlag?.kind === 'dir' ? storeFlag.dir : values.config;
    const etcdEndpoints = storeFlag?.kind === 'etcd' ? storeFlag.endpoints : undefined;
    if (configDir === undefined && etcdEndpoints === undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        "--config DIR is required (a directory of Istio YAML), or --store etcd://HOST:PORT for config in etcd; run 'trellis control-plane --help'",
      );
    }
    const dir = configDir !== undefined ? path.resolve(io.cwd, configDir) : undefined;
    if (dir !== undefined) {
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory())
        throw new TrellisError('TRELLIS_INVALID_ARGUMENT', `--config ${configDir}: not a directory`);
    }
    const quietMs = tryParseDuration(values.debounce);
    const maxMs = tryParseDuration(values['debounce-max']);
    if (quietMs === undefined || maxMs === undefined) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        '--debounce and --debounce-max take durations such as 100ms or 10s',
      );
    }
    const xds = parseAddress('xds-address', values['xds-address']);
    // Default 15012, or any free port when the plaintext one is (tests, several control planes).
    const securePort = parseSecurePort(values['secure-port'] ?? (xds.port === 0 ? '0' : '15012'));
    const secureSans = values['secure-san'].map((n) => n.trim());
    const badSan = secureSans.find(
      (n) => !isIP(n) && !/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(n),
    );
    if (badSan !== undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--secure-san ${JSON.stringify(badSan)}: expected a DNS name (cp.example.com) or an IP address`,
      );
    const httpAddr = parseAddress('http-address', values['http-address']);
    const logger = createLogger('control-plane', {}, io.env);
    const stateDir =
      values['state-dir'] !== undefined
        ? path.resolve(io.cwd, values['state-dir'])
        : path.join(dir ?? io.cwd, DEFAULT_STATE_DIR_NAME);
    const etcdStore =
      etcdEndpoints !== undefined
        ? new EtcdConfigStore({ endpoints: etcdEndpoints, stateDir, logger: logger.child('config') })
        : undefined;
    const store: ConfigStore & { start(): Promise<void>; close(): void | Promise<void> } =
      etcdStore ??
      new DirectoryConfigStore(dir as string, {
        parse: parseAndValidate,
        logger: logger.child('config'),
        stateDir,
      });
    const storeName = () =>
      etcdStore
        ? `etcd at ${describeEndpoints(etcdStore.endpoints)}${etcdStore.connected ? '' : ', unreachable: serving the last state saved in ' + stateDir}`
        : `config ${configDir}`;
    const mesh = await loadMeshConfig(values['mesh-config'], io.cwd, logger);
    const certTtlMs = tryParseDuration(values['workload-cert-ttl']);
    const maxCertTtlMs = tryParseDuration(values['max-workload-cert-ttl']);
    if (certTtlMs === undefined || certTtlMs < 1000 || maxCertTtlMs === undefined || maxCertTtlMs < certTtlMs)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--workload-cert-ttl ${values['workload-cert-ttl']} / --max-workload-cert-ttl ${values['max-workload-cert-ttl']}: expected durations of at least 1s such as 24h or 30s, the maximum no shorter than the default`,
      );
    const ca = await loadCaState({
      stateDir,
      ...(values['ca-dir'] !== undefined ? { caDir: path.resolve(io.cwd, values['ca-dir']) } : {}),
      ...(values['trusted-roots'] !== undefined
        ? { trustedRootsFile: path.resolve(io.cwd, values['trusted-roots']) }
        : {}),
      trustDomain: values['trust-domain'],
      workloadTtlSeconds: certTtlMs / 1000,
      maxWorkloadTtlSeconds: maxCertTtlMs / 1000,
      logger: logger.child('ca'),
    });
    const consoleTokens =
      values['console-tokens'] !== undefined
        ? await loadConsoleTokens(path.resolve(io.cwd, values['console-tokens']))
        : undefined;
    await store.start();
    const cp = new ControlPlane({
      console: {
        ...(consoleTokens ? { tokens: consoleTokens } : {}),
        auditFile: path.join(stateDir, AUDIT_FILE),
      },
      ...(etcdStore ? { etcd: { client: etcdStore.client, endpoints: etcdStore.endpoints } } : {}),
      pathNormalization: mesh.pathNormalization,
      outboundTrafficPolicy: mesh.outboundTrafficPolicy,
      extensionProviders: mesh.extensionProviders,
      telemetry: mesh.telemetry,
      proxyDefaults: mesh.proxyDefaults,
      config: store,
      logger,
      debounce: { quietMs, maxMs },
      pushConcurrency: parseIntFlag('push-concurrency', values['push-concurrency'], 32),
      rateLimitService: parseAddress('ratelimit-address', values['ratelimit-address']),
      ca: { authority: ca.authority, credentials: ca.credentials, maxTtlSeconds: maxCertTtlMs / 1000 },
      ...(prometheusUrl !== undefined ? { prometheusUrl } : {}),
      ...(securePort !== undefined
        ? { secureXds: { host: xds.host, port: securePort, extraSans: secureSans } }
        : {}),
    });
    const bound = await cp.start(xds, httpAddr);
    const errors = store.errors().length;
    io.stdout(
      `trellis control-plane: serving xDS on ${bound.xds.host}:${bound.xds.port}, HTTP on http://${bound.http.host}:${bound.http.port}` +
        ` (${storeName()}: revision ${store.revision}${errors ? `, ${errors} rejected document(s): see the log or /debug/config_errors` : ''})\n` +
        `trellis control-plane: CA for trust domain ${ca.authority.trustDomain} (${ca.source === 'plugin' ? 'plug-in' : ca.source === 'created' ? 'self-provisioned, new' : 'self-provisioned'}: ${ca.caDir}) on the xDS port\n` +
        (bound.secureXds
          ? `trellis control-plane: serving xDS and the CA over TLS on ${bound.secureXds.host}:${bound.secureXds.port} (root ${path.join(ca.caDir, 'root-cert.pem')})\n`
          : '') +
        `trellis control-plane: console http://${bound.http.host}:${bound.http.port}/console/ ${
          consoleTokens
            ? `(${consoleTokens.length} token(s) from ${values['console-tokens']})`
            : '(no --console-tokens FILE: nobody can log in)'
        }\n`,
    );
    const signal = await untilSignal();
    io.stdout(`trellis control-plane: ${signal}, shutting down\n`);
    await cp.stop();
    await store.close();
    return 0;
  },
};
