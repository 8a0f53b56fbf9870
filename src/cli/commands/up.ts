import { createRequire } from 'node:module';
import path from 'node:path';
import { loadMeshConfig } from '../mesh-config.js';
import { systemClock } from '../../core/clock.js';
import { createLogger, type LogLevel } from '../../core/logger.js';
import { systemRandom } from '../../core/random.js';
import { processIo, type Command } from '../command.js';
import { parseFlags, parseIntFlag } from '../args.js';
import { parsePrometheusUrl } from '../prometheus-url.js';
import { loadMesh } from '../up/manifest.js';
import { MeshRunner } from '../up/mesh-runner.js';
import { summaryText } from '../up/summary.js';
import { guardOutput, stopTriggers } from '../up/stop-triggers.js';
import { NetnsCapture } from '../up/netns.js';
import { otlpServiceEntry, otlpTelemetry, parseOtlpUrl } from '../up/otlp.js';
import { TrellisError, errorMessage } from '../../core/errors.js';
import { tryParseDuration } from '../../core/duration.js';

const require = createRequire(import.meta.url);

export const command: Command = {
  name: 'up',
  summary:
    'Run a whole mesh on this machine from a mesh.yaml: control plane, gateway, workloads and sidecars.',
  usage: [
    'Usage: trellis up [DIR|mesh.yaml] [--gateway-port N] [--base-port 21000] [--config DIR]',
    '                  [--xds-port 15010] [--http-port 15014] [--stop-grace 5s]',
    '                  [--capture proxy|netns] [--state-dir CONFIG/.trellis-state] [--mesh-config FILE]',
    '                  [--workload-cert-ttl 24h] [--trust-domain cluster.local]',
    '                  [--ready-timeout 30s] [--watch] [--otlp URL] [--console-tokens FILE]',
    '                  [--prometheus | --prometheus-url URL]',
    '',
    'Reads DIR/mesh.yaml (kind Mesh, trellis.io/v1alpha1), starts the control plane on its config',
    'directory, a sidecar and the process of every workload (restarted with backoff if it crashes),',
    'and the ingress gateway; prints each as it becomes ready, then the URLs.',
    '',
    'Each workload gets PORT (and PORT_<NAME> per port) to listen on, and HTTP_PROXY pointing at',
    'its sidecar: plain HTTP clients reach http://reviews:9080 through the mesh unchanged.',
    '',
    "--gateway-port  the gateway port (default: the manifest's, else 8080; 0: any free port)",
    '--base-port     first port for apps and sidecar inbound listeners (0: any free ports)',
    "--config        use this config directory instead of the manifest's (try scenarios on a copy)",
    '--xds-port, --http-port  control plane ports (0: any free port); --xds-address and',
    '                --http-address 127.0.0.1:N are the same flags (trellis help flags)',
    '--state-dir     where the last accepted version of each config file is kept, so a restart',
    '                while a file is invalid still serves it (default: .trellis-state in the',
    '                config directory)',
    "--mesh-config   Istio's MeshConfig YAML; pathNormalization is applied (default BASE)",
    '--ready-timeout  how long an app may take to listen on $PORT (default 30s); at start, one',
    '                that does not stops `up` with what it printed',
    '--watch         restart an app when a file in its working directory (or the script it runs)',
    '                changes; node_modules, hidden files and the config directory are ignored',
    '--otlp URL      send traces to an OpenTelemetry collector: http://HOST:PORT/v1/traces',
    '                (OTLP/HTTP, default port 4318) or grpc://HOST:PORT (OTLP/gRPC, 4317).',
    "                Defines the mesh config extension provider 'otlp' (opentelemetry) and makes",
    '                it the default tracing provider at 100% sampling, unless --mesh-config sets',
    '                defaultProviders.tracing or defaultConfig.tracing.sampling; adds the',
    '                ServiceEntry istio-system/otlp-collector so proxies reach it. A Telemetry',
    '                resource still narrows it (randomSamplingPercentage, disableSpanReporting).',
    "--console-tokens  who may log in to the console (http://HTTP/console/), in Kubernetes'",
    '                --token-auth-file format (token,user,uid,"trellis:editors"); default:',
    '                STATE-DIR/console-tokens.csv, made on the first run with an editor token for',
    '                you (mode 0600; the token is never printed). Console edits are audited in',
    '                STATE-DIR/console-audit.jsonl',
    "--prometheus    also start Debian's prometheus (found on PATH) scraping every proxy's",
    '                /stats/prometheus (targets follow the connected proxies; storage in the state',
    '                directory); the service graph (`trellis graph`) reads it; its URL is printed',
    '--prometheus-url URL  the service graph reads this Prometheus instead of scraping the proxies',
    '',
    'An app that exits is restarted with backoff (the delay printed is the delay waited); one that',
    'exits more than 5 times within 60 s, or whose command does not exist, is not restarted and',
    '`up` says why. `trellis apply` and `trellis delete` work on the running mesh: applied',
    'resources are files under CONFIG/applied/ (see `trellis apply --help`).',
    '--workload-cert-ttl  lifetime of the workload certificates (renewed at half life; default 24h)',
    '--trust-domain  of the identities (default cluster.local); keep it across restarts, as the',
    '                credentials `up` issues name it',
    '',
    'Identity: every workload is spiffe://cluster.local/ns/NAMESPACE/sa/SERVICE-ACCOUNT (the',
    "manifest's serviceAccount, default its service; the gateway is istio-ingressgateway-service-",
    "account). The control plane's CA and credential key are kept in the state directory (ca/);",
    'each sidecar gets a credential (credentials/NAME.jwt, re-issued at every start) and asks the',
    'CA for its certificate with a key it made itself. Sidecar instances carry the label',
    "security.istio.io/tlsMode=istio and their service account, as Istio's injected pods do.",
    '',
    '--capture       proxy (default): HTTP_PROXY points apps at their sidecars;',
    '                netns (root; needs ip and iptables): each app runs in its own network',
    '                namespace, its names resolve through /etc/netns/<ns>/hosts and iptables',
    '                sends its TCP through its sidecar, with no proxy settings. Apps must listen',
    '                on 0.0.0.0. Namespaces and rules are removed on exit (and on the next start',
    '                after a crash).',
    '',
    'Ctrl-C, SIGTERM or SIGHUP stops everything it started and exits 0 (an internal error too,',
    'with exit 1); a closed output pipe (`trellis up | head`) does not stop it. If `up` is killed outright',
    '(kill -9), its apps die with it (Linux, util-linux setpriv), and anything of theirs still',
    'running is killed at the next start (the pid file up-apps.json in the state directory).',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseFlags('up', argv, {
      'gateway-port': { type: 'string', port: true },
      'base-port': { type: 'string', default: '21000', port: true },
      config: { type: 'string' },
      'xds-port': { type: 'string', default: '15010', port: true, addressAlias: 'xds-address' },
      'http-port': { type: 'string', default: '15014', port: true, addressAlias: 'http-address' },
      'stop-grace': { type: 'string' },
      capture: { type: 'string' },
      'state-dir': { type: 'string' },
      'mesh-config': { type: 'string' },
      'workload-cert-ttl': { type: 'string' },
      'trust-domain': { type: 'string' },
      'ready-timeout': { type: 'string' },
      watch: { type: 'boolean' },
      otlp: { type: 'string' },
      'console-tokens': { type: 'string' },
      prometheus: { type: 'boolean' },
      'prometheus-url': { type: 'string' },
    });
    const otlp = values.otlp === undefined ? undefined : parseOtlpUrl(values.otlp);
    const prometheusUrl = parsePrometheusUrl(values['prometheus-url']);
    if (values.prometheus && prometheusUrl !== undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        '--prometheus starts a Prometheus and --prometheus-url reads one you run: pass one of them',
      );
    const capture = values.capture ?? 'proxy';
    if (capture !== 'proxy' && capture !== 'netns') {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--capture: expected proxy or netns, got ${JSON.stringify(capture)}`,
      );
    }
    let certTtlSeconds: number | undefined;
    if (values['workload-cert-ttl'] !== undefined) {
      const ms = tryParseDuration(values['workload-cert-ttl']);
      if (ms === undefined || ms < 1000)
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          `--workload-cert-ttl ${JSON.stringify(values['workload-cert-ttl'])}: expected a duration of at least 1s, e.g. 24h or 30s`,
        );
      certTtlSeconds = ms / 1000;
    }
    let readyTimeoutMs: number | undefined;
    if (values['ready-timeout'] !== undefined) {
      readyTimeoutMs = tryParseDuration(values['ready-timeout']);
      if (readyTimeoutMs === undefined || readyTimeoutMs <= 0)
        throw new TrellisError(
          'TRELLIS_INVALID_ARGUMENT',
          `--ready-timeout ${JSON.stringify(values['ready-timeout'])}: expected a duration, e.g. 30s or 2m`,
        );
    }
    const plan = await loadMesh(positionals[0] ?? '.', io.cwd);
    if (values.config !== undefined) plan.configDir = path.resolve(io.cwd, values.config);
    const gatewayPort = parseIntFlag('gateway-port', values['gateway-port'], plan.gateway?.port ?? 8080);
    // `up | head -1` closes stdout under it: output stops, the mesh does not (stop-triggers.ts).
    const out = io === processIo ? guardOutput(process.stdout).write : io.stdout;
    if (io === processIo) guardOutput(process.stderr);
    const envLevel = io.env.TRELLIS_LOG_LEVEL as LogLevel | undefined;
    const logger = createLogger('up', { level: envLevel ?? 'warn' }, io.env);
    const configLogger = createLogger('config', { level: envLevel ?? 'info' }, io.env);
    const pkg = require('../../../package.json') as { version: string };
    const mesh = await loadMeshConfig(values['mesh-config'], io.cwd, configLogger);
    const telemetry = otlp === undefined ? mesh.telemetry : otlpTelemetry(mesh.telemetry, otlp);
    const runner = new MeshRunner({
      plan,
      gatewayPort,
      basePort: parseIntFlag('base-port', values['base-port'], 21000),
      xds: { host: '127.0.0.1', port: parseIntFlag('xds-port', values['xds-port'], 15010) },
      http: { host: '127.0.0.1', port: parseIntFlag('http-port', values['http-port'], 15014) },
      env: io.env,
      write: out,
      logger,
      configLogger,
      clock: systemClock,
      random: systemRandom,
      version: pkg.version,
      ...(capture === 'netns' ? { netns: new NetnsCapture({ mesh: plan.name }) } : {}),
      ...(values['state-dir'] !== undefined ? { stateDir: path.resolve(io.cwd, values['state-dir']) } : {}),
      pathNormalization: mesh.pathNormalization,
      outboundTrafficPolicy: mesh.outboundTrafficPolicy,
      extensionProviders: mesh.extensionProviders,
      telemetry,
      ...(otlp !== undefined ? { extraResources: [otlpServiceEntry(otlp)] } : {}),
      proxyDefaults: mesh.proxyDefaults,
      ...(certTtlSeconds !== undefined ? { workloadCertTtlSeconds: certTtlSeconds } : {}),
      ...(values['trust-domain'] !== undefined ? { trustDomain: values['trust-domain'] } : {}),
      stopGraceMs: parseIntFlag('stop-grace', values['stop-grace']?.replace(/s$/, ''), 5) * 1000,
      ...(readyTimeoutMs !== undefined ? { readyTimeoutMs } : {}),
      ...(values.watch ? { watch: true } : {}),
      ...(values['console-tokens'] !== undefined
        ? { consoleTokensFile: path.resolve(io.cwd, values['console-tokens']) }
        : {}),
      ...(values.prometheus ? { prometheus: true } : {}),
      ...(prometheusUrl !== undefined ? { prometheusUrl } : {}),
    });
    if (otlp !== undefined)
      out(
        `trellis up: traces to ${values.otlp ?? ''} (OTLP/${otlp.protocol === 'grpc' ? 'gRPC' : 'HTTP'}), ${telemetry.tracingSampling}% sampled\n`,
      );
    out(
      `trellis up: mesh ${plan.name} from ${path.relative(io.cwd, plan.file) || plan.file}, ${plan.workloads.length} workloads${values.watch ? ' (watching their files)' : ''}\n`,
    );
    const triggers = stopTriggers();
    triggers.onAgain((r) =>
      out(
        r.kind === 'signal'
          ? `trellis up: ${r.signal} again; already stopping (apps get SIGKILL after --stop-grace)\n`
          : `trellis up: internal error while stopping: ${errorMessage(r.error)}\n`,
      ),
    );
    try {
      const started = runner.start().then(
        (s) => ({ kind: 'started' as const, s }),
        (err: unknown) => ({ kind: 'failed' as const, err }),
      );
      const first = await Promise.race([
        started,
        triggers.first.then((reason) => ({ kind: 'stop' as const, reason })),
      ]);
      if (first.kind === 'failed') {
        await runner.stop();
        throw first.err;
      }
      if (first.kind === 'started') out(summaryText(first.s));
      const reason = first.kind === 'stop' ? first.reason : await triggers.first;
      if (reason.kind === 'error') {
        const err = reason.error;
        io.stderr(
          `trellis up: internal error, stopping everything: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
        await runner.stop();
        out('trellis up: stopped\n');
        return 1;
      }
      out(`trellis up: ${reason.signal}, stopping everything\n`);
      await runner.stop();
      out('trellis up: stopped\n');
      return 0;
    } finally {
      triggers.dispose();
    }
  },
};
