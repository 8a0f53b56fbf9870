/**
 * `trellis up`: one command runs a whole mesh on one machine, without root.
 *
 * What runs where:
 * - in this process: the control plane (xDS + HTTP API), the ingress gateway and one Trellis
 *   proxy per workload (its sidecar). One event loop for all proxies keeps `up` light (one
 *   Node process instead of 2N+1) and lets every proxy bind its own ports and report them;
 * - one child process per workload (its `command`), in its own process group, restarted with
 *   backoff when it crashes (supervisor.ts), its output prefixed with its name. Apps die with
 *   `up` even on `kill -9` (setpriv --pdeathsig), and whatever a killed run still left (processes
 *   an app forked) is killed at the next start from the pid file in the state directory
 *   (child-processes.ts).
 *
 * How traffic flows (everything on 127.0.0.1, so workloads are told apart by port, not IP):
 *
 *   client -> gateway :G --(route)--> 127.0.0.1:IN(productpage) = productpage's sidecar inbound
 *     listener -> 127.0.0.1:APP(productpage) = the app, started with PORT=APP and
 *     HTTP_PROXY=http://127.0.0.1:OUT(productpage)
 *   app GET http://reviews:9080/... (absolute form, to OUT) -> its sidecar's outbound capture:
 *     port 9080 selects Listener 0.0.0.0_9080 / route "9080" / virtual host reviews:9080 ->
 *     subset cluster -> an endpoint 127.0.0.1:IN(reviews-vN) -> reviews-vN's sidecar -> its app
 *
 * The pieces that make it so (derived.ts): a ServiceEntry per service gives `reviews:9080` its
 * port; a Sidecar per workload gives it an ingress listener bound on IN and forwarding to APP;
 * the Gateway is created on the port the gateway binds. They sit in a memory store layered over
 * the user's watched config directory, so edits there change traffic live and an invalid edit
 * is reported while the last good config keeps serving. An instance is registered (in process,
 * with a heartbeat) at 127.0.0.1:IN once its sidecar is ready and its app accepts connections,
 * and deregistered when the app exits, so no traffic is sent to a restarting workload.
 *
 * With `--capture netns` (netns.ts, root) the sidecars stay as above, but each app runs in
 * its own network namespace with no proxy settings, and iptables carries its TCP to its
 * sidecar's outbound capture and its sidecar's 127.0.0.1:APP connections into the namespace.
 *
 * Start order: control plane; per workload (in parallel) sidecar, app, wait, register; then the
 * gateway. Stop (Ctrl-C / SIGTERM): gateway, apps (SIGTERM, SIGKILL after a grace period),
 * sidecars, control plane.
 */
import { PrometheusRunner } from './prometheus.js';
import { listenOn } from '../../core/net.js';
import net from 'node:net';
import type { OutboundTrafficPolicyMode, PathNormalizationMode } from '../../api/mesh-config.js';
import path from 'node:path';
import { validateResource } from '../../api/validate.js';
import type { Resource } from '../../api/resource.js';
import { parseAndValidate } from '../../api/parse.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Random } from '../../core/random.js';
import { DirectoryConfigStore } from '../../config/directory-store.js';
import { DEFAULT_STATE_DIR_NAME } from '../../config/last-good-state.js';
import { LayeredConfigStore } from '../../config/layered-store.js';
import { MemoryConfigStore } from '../../config/memory-store.js';
import { ControlPlane, type ControlPlaneOptions } from '../../controlplane/control-plane.js';
import type { ProxyOptions } from '../../proxy/proxy.js';
import type { MeshProxyDefaults } from '../../api/networking/proxy-config.js';
import { proxyStartup } from '../proxy-startup.js';
import { inProcessSidecar, workerSidecar, type SidecarProxy } from './sidecar-proxy.js';
import os from 'node:os';
import { loadCaState } from '../../controlplane/ca-service-state.js';
import { CaClient } from '../../proxy/identity/ca-client.js';
import { grpcCertificateRequester } from '../../proxy/identity/ca-client-transport.js';
import { fileCredential } from '../../proxy/identity/credential-source.js';
import { provisionCredentials } from './identities.js';
import { proxiesHaveEndpoints } from './convergence.js';
import { derivedResources, serviceHost, type WorkloadPorts } from './derived.js';
import { TLS_MODE_LABEL, type MeshPlan, type WorkloadPlan } from './manifest.js';
import { PortAllocator, portIsFree } from './ports.js';
import { notListeningMessage, waitForPorts } from './ready.js';
import { prefixFor } from './output.js';
import { ProcessSupervisor, type ExitInfo } from './supervisor.js';
import { describeExit, seconds } from './exit-report.js';
import { gatewayRoutes, type ProxySummary, type UpSummary } from './summary.js';
import { withTrellisLoaders } from './node-loader.js';
import { AppWatcher, watchRoots } from './app-watcher.js';
import { ChildPidFile } from './child-processes.js';
import {
  hostsFile,
  serviceAddresses,
  workloadLayout,
  wrapCommand,
  type NetnsCapture,
  type NetnsWorkload,
} from './netns.js';
import { TrellisError } from '../../core/errors.js';
import { AUDIT_FILE, ensureLocalTokenFile, loadConsoleTokens, localUser } from '../console-tokens.js';
import { loadOriginalDestination, type OriginalDestinationReader } from './netns-original-dst.js';

export interface MeshRunnerOptions {
  plan: MeshPlan;
  /** 0: any free port. */
  gatewayPort: number;
  /** First port for apps and sidecar inbound listeners; 0: any free ports. */
  basePort: number;
  xds: { host: string; port: number };
  http: { host: string; port: number };
  env: NodeJS.ProcessEnv;
  /** Progress and the workloads' prefixed output. */
  write: (text: string) => void;
  logger: Logger;
  /** Logger for config reloads and rejected edits (shown at info level). */
  configLogger: Logger;
  clock: Clock;
  random: Random;
  version: string;
  /** Grace period for apps between SIGTERM and SIGKILL. */
  stopGraceMs?: number;
  /**
   * How long an app may take to listen on its ports (each run); default 30 s. At start, an app
   * that does not makes `up` fail; after a restart it is reported and waited for.
   */
  readyTimeoutMs?: number;
  /** `up --watch`: restart an app when its files change (app-watcher.ts). */
  watch?: boolean;
  /** Restart limits of the apps (supervisor.ts); defaults in restart-policy.ts. */
  restarts?: { maxRestarts?: number; windowMs?: number; backoff?: { baseMs: number; maxMs: number } };
  /**
   * `--capture netns`: apps run in their own network namespaces and iptables captures their
   * traffic (netns.ts) instead of HTTP_PROXY.
   */
  netns?: NetnsCapture;
  /** Loads the SO_ORIGINAL_DST reader for netns capture; the native addon by default. */
  loadOriginalDestination?: () => OriginalDestinationReader;
  /**
   * Where the config store persists the last accepted version of every file
   * (config/last-good-state.ts); default `<configDir>/.trellis-state`.
   */
  stateDir?: string;
  /** Mesh config `pathNormalization` (trellis up --mesh-config); default BASE. */
  pathNormalization?: PathNormalizationMode;
  /** Mesh config `outboundTrafficPolicy.mode` (trellis up --mesh-config); default ALLOW_ANY. */
  outboundTrafficPolicy?: OutboundTrafficPolicyMode;
  /** Mesh config `extensionProviders` for CUSTOM authorization (trellis up --mesh-config). */
  extensionProviders?: ControlPlaneOptions['extensionProviders'];
  /** Mesh config telemetry (trellis up --mesh-config, --otlp). */
  telemetry?: ControlPlaneOptions['telemetry'];
  /** Resources `up` makes from its flags (--otlp's collector ServiceEntry), beside derived ones. */
  extraResources?: readonly Resource[];
  /** Trust domain of the workloads' identities; default cluster.local. */
  trustDomain?: string;
  /** Workload certificate lifetime (trellis up --workload-cert-ttl); default 24 h. */
  workloadCertTtlSeconds?: number;
  /** `up --prometheus`: run Debian's prometheus scraping the proxies (prometheus.ts); the graph reads it. */
  prometheus?: boolean;
  /** `up --prometheus-url URL`: the service graph reads this Prometheus instead of scraping. */
  prometheusUrl?: string;
  /** How long a sidecar may wait for its first certificate before `up` gives up. Default 15 s. */
  certificateTimeoutMs?: number;
  /**
   * Label sidecars and their instances `security.istio.io/tlsMode: istio`, as Istio's injected
   * pods are: auto mTLS then sends them mTLS. Default true; false leaves them plaintext peers.
   */
  sidecarMtls?: boolean;
  /**
   * `up --console-tokens FILE`: who may log in to the console. Default: STATE-DIR/console-tokens.csv,
   * made on the first run with one editor token for the local user (cli/console-tokens.ts).
   */
  consoleTokensFile?: string;
  /** Mesh config `defaultConfig` concurrency and proxyMetadata, under every ProxyConfig. */
  proxyDefaults?: MeshProxyDefaults;
}

interface RunningWorkload {
  plan: WorkloadPlan;
  ports: WorkloadPorts;
  proxy: SidecarProxy;
  certificates: CaClient;
  supervisor?: ProcessSupervisor;
  watcher?: AppWatcher;
  registrationId?: string;
  heartbeat?: TimerHandle;
  netns?: NetnsWorkload;
}

/** What `up` prints once the mesh runs (summary.ts), plus what tests and callers need. */
export interface MeshSummary extends UpSummary {
  trustDomain: string;
  workloads: (ProxySummary & { app: number[]; inbound: number[]; outbound: number })[];
}

const HEARTBEAT_MS = 10_000;
/** In the state directory: the apps of the running `up`, for the next start to clean up. */
const UP_PID_FILE = 'up-apps.json';
const TTL_SECONDS = 30;

export class MeshRunner {
  private cp: ControlPlane | undefined;
  private prometheus: PrometheusRunner | undefined;
  private userStore: DirectoryConfigStore | undefined;
  private layered: LayeredConfigStore | undefined;
  private gateway: SidecarProxy | undefined;
  private gatewayCertificates: CaClient | undefined;
  private credentialFiles = new Map<string, string>();
  private readonly workloads: RunningWorkload[] = [];
  private stopping = false;
  private readonly width: number;
  private netnsLayout = new Map<string, NetnsWorkload>();
  /** --capture netns: each service's virtual address, and the SO_ORIGINAL_DST reader. */
  private vips: ReadonlyMap<string, string> | undefined;
  private originalDestination: OriginalDestinationReader | undefined;
  private pidFile: ChildPidFile | undefined;
  /** Set once start() has resolved: later failures of an app are reported, not fatal. */
  private running = false;
  /** Settles once every workload's start has finished or given up (stop() waits for it). */
  private starting: Promise<void> = Promise.resolve();
  /** Resolves when stop() is called: startups waiting for an app give up waiting. */
  private readonly stopRequested: Promise<void>;
  private requestStop: () => void = () => undefined;

  constructor(private readonly opts: MeshRunnerOptions) {
    this.stopRequested = new Promise((resolve) => (this.requestStop = resolve));
    this.width = Math.max(...opts.plan.workloads.map((w) => w.name.length), 'control-plane'.length);
  }

  private get stateDir(): string {
    return this.opts.stateDir ?? path.join(this.opts.plan.configDir, DEFAULT_STATE_DIR_NAME);
  }

  private progress(name: string, text: string): void {
    this.opts.write(`${name.padEnd(this.width)} ... ${text}\n`);
  }

  async start(): Promise<MeshSummary> {
    const { plan } = this.opts;
    // Before ports are allocated: a killed run's apps may still hold them.
    await this.removeLeftoverApps();
    const ports = await this.allocatePorts();
    const gatewayPort = plan.gateway ? await this.gatewayPort() : undefined;
    if (this.opts.netns) await this.setupNetns(this.opts.netns);

    const userStore = new DirectoryConfigStore(plan.configDir, {
      parse: parseAndValidate,
      logger: this.opts.configLogger,
      stateDir: this.stateDir,
    });
    this.userStore = userStore;
    await userStore.start();
    const derived = new MemoryConfigStore((r) => validateResource(r));
    for (const r of derivedResources(plan, ports, gatewayPort, this.vips)) derived.apply(r);
    for (const r of this.opts.extraResources ?? []) derived.apply(r);
    // API writes (`trellis apply`/`delete`) become files in the config directory; what `up`
    // derives from the manifest is not theirs to change.
    this.layered = new LayeredConfigStore([derived, userStore], {
      writable: userStore,
      sources: new Map([[derived, `${plan.file} (made by trellis up)`]]),
    });
    // The CA and credential key live in the state directory: a restart keeps both.
    const ca = await loadCaState({
      stateDir: this.stateDir,
      ...(this.opts.trustDomain !== undefined ? { trustDomain: this.opts.trustDomain } : {}),
      ...(this.opts.workloadCertTtlSeconds !== undefined
        ? { workloadTtlSeconds: this.opts.workloadCertTtlSeconds }
        : {}),
      logger: this.opts.logger.child('ca'),
    });
    this.credentialFiles = await provisionCredentials(this.stateDir, ca.credentials, [
      ...plan.workloads.map((w) => ({
        name: w.name,
        namespace: w.namespace,
        serviceAccount: w.serviceAccount,
      })),
      ...(plan.gateway
        ? [
            {
              name: plan.gateway.name,
              namespace: plan.gateway.namespace,
              serviceAccount: plan.gateway.serviceAccount,
            },
          ]
        : []),
    ]);
    const consoleTokens = this.opts.consoleTokensFile
      ? { file: this.opts.consoleTokensFile, created: false }
      : await ensureLocalTokenFile(this.stateDir, localUser(this.opts.env));
    const prometheusPort = this.opts.prometheus ? await freePort() : undefined;
    const prometheusUrl =
      this.opts.prometheusUrl ??
      (prometheusPort !== undefined ? `http://127.0.0.1:${prometheusPort}` : undefined);
    const cp = new ControlPlane({
      console: {
        tokens: await loadConsoleTokens(consoleTokens.file),
        auditFile: path.join(this.stateDir, AUDIT_FILE),
      },
      ...(prometheusUrl !== undefined ? { prometheusUrl } : {}),
      ca: { authority: ca.authority, credentials: ca.credentials },
      config: this.layered,
      logger: this.opts.logger.child('control-plane'),
      clock: this.opts.clock,
      ...(this.opts.pathNormalization ? { pathNormalization: this.opts.pathNormalization } : {}),
      ...(this.opts.outboundTrafficPolicy ? { outboundTrafficPolicy: this.opts.outboundTrafficPolicy } : {}),
      ...(this.opts.extensionProviders ? { extensionProviders: this.opts.extensionProviders } : {}),
      ...(this.opts.telemetry ? { telemetry: this.opts.telemetry } : {}),
      ...(this.opts.proxyDefaults ? { proxyDefaults: this.opts.proxyDefaults } : {}),
    });
    this.cp = cp;
    const bound = await cp.start(this.opts.xds, this.opts.http);
    const xds = `${bound.xds.host}:${bound.xds.port}`;
    const controlPlaneUrl = `http://${bound.http.host}:${bound.http.port}`;
    const rejected = userStore.errors().length;
    this.progress(
      'control-plane',
      `ready (xDS ${xds}, HTTP ${controlPlaneUrl}; config ${plan.configDir}${rejected ? `: ${rejected} rejected document(s), see above` : ''}; CA ${ca.source === 'created' ? 'created' : 'loaded'} in ${ca.caDir}, trust domain ${ca.authority.trustDomain})`,
    );

    const starts = plan.workloads.map((w) => this.startWorkload(w, ports.get(w.name) as WorkloadPorts, xds));
    // stop() waits for these: one workload failing to start must not leave another starting
    // its app after everything was stopped.
    this.starting = Promise.allSettled(starts).then(() => undefined);
    await Promise.all(starts);
    if (this.stopping) throw new TrellisError('TRELLIS_IO', 'stopped while starting');

    let gatewayUrl: string | undefined;
    let gateway: ProxySummary | undefined;
    if (plan.gateway && gatewayPort !== undefined) {
      const g = plan.gateway;
      const id = `router~127.0.0.1~${g.name}.${g.namespace}~${g.namespace}.svc.cluster.local`;
      const gw = await this.newProxy({
        id,
        mode: 'gateway',
        name: g.name,
        namespace: g.namespace,
        labels: g.labels,
        bindListeners: [gatewayPort],
        xds,
        credentialFile: this.credentialFiles.get(g.name) as string,
      });
      this.gateway = gw.proxy;
      this.gatewayCertificates = gw.certificates;
      await gw.proxy.start();
      await gw.ready;
      const identity = (await this.firstCertificate(g.name, gw.certificates)).identity;
      gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
      gateway = { name: g.name, id, adminUrl: `http://127.0.0.1:${gw.proxy.adminPort}`, identity };
      this.progress(g.name, `ready (gateway ${gatewayUrl}, admin ${gateway.adminUrl})`);
    }
    await this.converged();
    if (prometheusPort !== undefined) {
      this.prometheus = new PrometheusRunner({
        dir: path.join(this.stateDir, 'prometheus'),
        port: prometheusPort,
        proxies: () => cp.proxyStatus(),
        logger: this.opts.logger.child('prometheus'),
        env: this.opts.env,
        cwd: process.cwd(),
      });
      await this.prometheus.start();
      this.progress('prometheus', `ready (${this.prometheus.url}, scraping every proxy's /stats/prometheus)`);
    }
    this.running = true;
    if (this.opts.watch) for (const w of this.workloads) this.watchApp(w);
    return {
      ...(gatewayUrl ? { gatewayUrl } : {}),
      ...(gateway
        ? { gateway, gatewayRoutes: gatewayRoutes(this.gateway?.snapshot().routes.values() ?? []) }
        : {}),
      trustDomain: ca.authority.trustDomain,
      controlPlaneUrl,
      console: {
        url: `${controlPlaneUrl}/console/`,
        tokenFile: consoleTokens.file,
        created: consoleTokens.created,
      },
      ...(prometheusUrl !== undefined ? { prometheusUrl } : {}),
      xds,
      configDir: plan.configDir,
      workloads: this.workloads.map((w) => ({
        name: w.plan.name,
        id: sidecarId(w.plan),
        ...(w.supervisor?.pid !== undefined ? { pid: w.supervisor.pid } : {}),
        adminUrl: `http://127.0.0.1:${w.proxy.adminPort}`,
        identity: w.certificates.current()?.identity ?? '-',
        app: Object.values(w.ports.app),
        inbound: Object.values(w.ports.inbound),
        outbound: w.proxy.outboundPort,
      })),
    };
  }

  /**
   * Waits until every proxy has every registered instance in its endpoints, so the mesh is
   * really ready when `up` says so (registrations reach proxies through a debounced push).
   */
  private async converged(timeoutMs = 10_000): Promise<void> {
    const cp = this.cp;
    if (cp === undefined) return;
    cp.flushNow();
    const expected = new Map<string, number>();
    for (const w of this.workloads) {
      if (w.registrationId === undefined) continue;
      for (const p of w.plan.ports) {
        const cluster = `outbound|${p.port}||${serviceHost(w.plan)}`;
        expected.set(cluster, (expected.get(cluster) ?? 0) + 1);
      }
    }
    const proxies = [...this.workloads.map((w) => w.proxy), ...(this.gateway ? [this.gateway] : [])];
    const done = () =>
      proxiesHaveEndpoints(
        proxies.map((p) => p.snapshot()),
        expected,
      );
    const deadline = this.opts.clock.now() + timeoutMs;
    while (!done()) {
      if (this.opts.clock.now() > deadline) {
        this.opts.write('trellis up: some proxies do not have every endpoint yet; see /debug/syncz\n');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the apps a killed `up` left running (child-processes.ts); then records this run's. */
  private async removeLeftoverApps(): Promise<void> {
    const pids = new ChildPidFile(path.join(this.stateDir, UP_PID_FILE), {
      warn: (message) => this.opts.write(`trellis up: ${message}\n`),
    });
    const killed = await pids.removeLeftovers();
    if (killed.length > 0) {
      this.progress(
        'leftovers',
        `killed ${killed.map((k) => `${k.name} (pid ${k.pid})`).join(', ')}, left running by a previous run`,
      );
    }
    this.pidFile = pids;
  }

  private async setupNetns(netns: NetnsCapture): Promise<void> {
    const { plan } = this.opts;
    await netns.check();
    const layout = workloadLayout(
      plan.name,
      plan.workloads.map((w) => w.name),
    );
    const vips = serviceAddresses(plan.workloads.map((w) => w.service));
    const namespaceOf = new Map(plan.workloads.map((w) => [w.service, w.namespace]));
    try {
      this.originalDestination = (this.opts.loadOriginalDestination ?? loadOriginalDestination)();
    } catch (err) {
      this.opts.write(
        `trellis up: ${errorMessage(err)}.\n  HTTP is still routed by Host; plain TCP and calls by address are not.\n`,
      );
    }
    await netns.setup(layout, (w) => hostsFile(w, vips, namespaceOf));
    this.netnsLayout = new Map(layout.map((w) => [w.name, w]));
    this.vips = vips;
    this.progress(
      'netns',
      `${layout.length} network namespaces on bridge trellis0 (${layout.map((w) => `${w.name} ${w.address}`).join(', ')})`,
    );
  }

  private async allocatePorts(): Promise<Map<string, WorkloadPorts>> {
    const { plan } = this.opts;
    // Service ports name outbound listeners; an inbound listener on one would clash with them.
    const reserved = new Set(plan.workloads.flatMap((w) => w.ports.map((p) => p.port)));
    if (plan.gateway && this.opts.gatewayPort !== 0) reserved.add(this.opts.gatewayPort);
    const alloc = new PortAllocator(this.opts.basePort, reserved);
    const out = new Map<string, WorkloadPorts>();
    for (const w of plan.workloads) {
      const p: WorkloadPorts = { app: {}, inbound: {} };
      for (const port of w.ports) {
        p.app[port.name] = await alloc.allocate();
        p.inbound[port.name] = await alloc.allocate();
      }
      out.set(w.name, p);
    }
    return out;
  }

  private async gatewayPort(): Promise<number> {
    if (this.opts.gatewayPort === 0) return new PortAllocator(0, new Set()).allocate();
    if (!(await portIsFree('127.0.0.1', this.opts.gatewayPort))) {
      throw new TrellisError(
        'TRELLIS_IO',
        `gateway port ${this.opts.gatewayPort} is in use; pass --gateway-port N (0 for any free port)`,
      );
    }
    return this.opts.gatewayPort;
  }

  private async newProxy(p: {
    id: string;
    mode: 'sidecar' | 'gateway';
    name: string;
    namespace: string;
    labels: Record<string, string>;
    bindListeners: number[];
    xds: string;
    /** The workload credential it presents to the CA (identities.ts). */
    credentialFile: string;
  }): Promise<{ proxy: SidecarProxy; ready: Promise<void>; certificates: CaClient }> {
    let markReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    // As `trellis proxy --credential-file F` does: a key made here, a certificate from the CA.
    const certificates = new CaClient({
      requester: grpcCertificateRequester(p.xds),
      credential: fileCredential(p.credentialFile),
      clock: this.opts.clock,
      random: this.opts.random,
      logger: this.opts.logger.child(p.name).child('ca'),
    });
    certificates.start();
    // Its ProxyConfig, read now: as in Istio, a change takes effect when the proxy restarts.
    const resolved = this.cp?.proxyConfigFor({ namespace: p.namespace, labels: p.labels });
    const startup = proxyStartup({
      resolved,
      flagConcurrency: undefined,
      processEnv: {},
      cpus: os.availableParallelism(),
    });
    for (const line of startup.dropped) this.opts.logger.child(p.name).warn(line);
    const workers = startup.concurrency > 1 || Object.keys(startup.env).length > 0;
    // Workers share fixed capture ports; in this process any free port does.
    const capture = workers ? new PortAllocator(0, new Set()) : undefined;
    const options: ProxyOptions = {
      workloadCertificates: certificates,
      xds: p.xds,
      bootstrap: {
        nodeId: p.id,
        cluster: `${p.name}.${p.namespace}`,
        mode: p.mode,
        namespace: p.namespace,
        workloadName: p.name,
        labels: p.labels,
        instanceIps: ['127.0.0.1'],
        locality: '',
        metadata: startup.metadata,
      },
      version: this.opts.version,
      bindAddress: '127.0.0.1',
      adminAddress: '127.0.0.1',
      adminPort: 0,
      outboundPort: (await capture?.allocate()) ?? 0,
      inboundPort: (await capture?.allocate()) ?? 0,
      bindListeners: p.bindListeners,
      clock: this.opts.clock,
      random: this.opts.random,
      logger: this.opts.logger.child(p.name),
      onReady: () => markReady(),
      ...(p.mode === 'sidecar' && this.originalDestination
        ? { originalDestination: this.originalDestination }
        : {}),
    };
    if (startup.summary !== undefined)
      this.progress(
        p.name,
        `${startup.summary}${workers ? `: ${startup.concurrency} worker processes` : ''}`,
      );
    const proxy = workers
      ? workerSidecar(options, startup.concurrency, startup.env)
      : inProcessSidecar(options);
    return { proxy, ready, certificates };
  }

  /**
   * The first certificate of a sidecar or the gateway. Istio's pod is not ready until Envoy has
   * its SDS secrets; here the instance is not registered (sent traffic) until then.
   */
  private async firstCertificate(name: string, certificates: CaClient): Promise<{ identity: string }> {
    const timeoutMs = this.opts.certificateTimeoutMs ?? 15_000;
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.opts.clock.setTimeout(
        () =>
          reject(
            new TrellisError(
              'TRELLIS_IO',
              `${name}: no workload certificate after ${timeoutMs / 1000}s (${certificates.status.lastError ?? 'no answer from the CA'})`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([certificates.ready(), timeout]);
    } finally {
      timer?.cancel();
    }
  }

  private async startWorkload(w: WorkloadPlan, ports: WorkloadPorts, xds: string): Promise<void> {
    const sidecar = await this.newProxy({
      id: sidecarId(w),
      mode: 'sidecar',
      name: w.name,
      namespace: w.namespace,
      labels: this.sidecarLabels(w),
      bindListeners: Object.values(ports.inbound),
      xds,
      credentialFile: this.credentialFiles.get(w.name) as string,
    });
    const ns = this.netnsLayout.get(w.name);
    const running: RunningWorkload = {
      plan: w,
      ports,
      proxy: sidecar.proxy,
      certificates: sidecar.certificates,
      ...(ns ? { netns: ns } : {}),
    };
    this.workloads.push(running);
    await sidecar.proxy.start();
    await Promise.race([sidecar.ready, this.stopRequested]);
    if (this.stopping) return;
    await this.firstCertificate(w.name, sidecar.certificates);
    if (this.stopping) return;
    const outbound = sidecar.proxy.outboundPort;
    const proxyUrl = `http://127.0.0.1:${outbound}`;
    if (ns) {
      const pairs = Object.keys(ports.app).map((name) => ({
        app: ports.app[name] as number,
        inbound: ports.inbound[name] as number,
      }));
      await this.opts.netns?.capture(ns, outbound, pairs);
    }
    // Captured by iptables, the app needs no proxy settings (and must not inherit any).
    const proxyEnv: NodeJS.ProcessEnv = ns
      ? { HTTP_PROXY: undefined, http_proxy: undefined, HTTPS_PROXY: undefined, https_proxy: undefined }
      : {
          HTTP_PROXY: proxyUrl,
          http_proxy: proxyUrl,
          NO_PROXY: 'localhost,127.0.0.1',
          no_proxy: 'localhost,127.0.0.1',
        };
    const env: NodeJS.ProcessEnv = {
      ...this.opts.env,
      ...w.env,
      PORT: String(Object.values(ports.app)[0]),
      // In a namespace the app is reached on its namespace address, not on loopback.
      BIND_ADDRESS: ns ? '0.0.0.0' : '127.0.0.1',
      ...proxyEnv,
      TRELLIS_WORKLOAD: w.name,
      TRELLIS_SERVICE: w.service,
      TRELLIS_NAMESPACE: w.namespace,
    };
    for (const [name, port] of Object.entries(ports.app))
      env[`PORT_${name.toUpperCase().replace(/-/g, '_')}`] = String(port);

    // Settles once: the first run that listens, or the first reason it never will.
    let settle: { ok: () => void; fail: (err: Error) => void } = {
      ok: () => undefined,
      fail: () => undefined,
    };
    const ready = new Promise<void>((resolve, reject) => {
      settle = {
        ok: () => {
          settle = { ok: () => undefined, fail: () => undefined };
          resolve();
        },
        fail: (err) => {
          settle = { ok: () => undefined, fail: () => undefined };
          reject(err);
        },
      };
    });
    // Awaited below unless stop() comes first; a failure after that is nobody's to report.
    ready.catch(() => undefined);
    const command = withTrellisLoaders(w.command, w.workingDir);
    const supervisor = new ProcessSupervisor({
      name: w.name,
      command: ns ? wrapCommand(ns, command) : command,
      cwd: w.workingDir,
      env,
      prefix: prefixFor(w.name, this.width),
      write: this.opts.write,
      clock: this.opts.clock,
      random: this.opts.random,
      dieWithParent: true,
      ...(this.opts.restarts?.backoff ? { backoff: this.opts.restarts.backoff } : {}),
      ...(this.opts.restarts?.maxRestarts !== undefined
        ? { maxRestarts: this.opts.restarts.maxRestarts }
        : {}),
      ...(this.opts.restarts?.windowMs !== undefined ? { restartWindowMs: this.opts.restarts.windowMs } : {}),
      onSpawn: (pid, run) => {
        this.pidFile?.add(w.name, pid);
        void this.whenListening(running, pid, run).then(
          (ok) => {
            if (ok) settle.ok();
          },
          (err: unknown) => settle.fail(err as Error),
        );
      },
      onExit: (info) => {
        if (info.pid !== undefined) this.pidFile?.delete(info.pid);
        this.deregister(running);
        if (this.stopping) return;
        const text = this.exitText(running, info);
        if (text === undefined) return;
        this.progress(w.name, text);
        if (info.gaveUp !== undefined && !this.running)
          settle.fail(new TrellisError('TRELLIS_IO', `${w.name} ${text}`));
      },
    });
    running.supervisor = supervisor;
    if (this.stopping) return;
    supervisor.start();
    await Promise.race([ready, this.stopRequested]);
  }

  /** What `up` says when an app stops on its own; undefined when it was stopped on purpose. */
  private exitText(w: RunningWorkload, info: ExitInfo): string | undefined {
    if (info.restartInMs !== undefined)
      return `${describeExit(info)}; restarting in ${seconds(info.restartInMs)}`;
    if (info.gaveUp === undefined) return undefined;
    const tail = w.supervisor?.recentOutput() ?? [];
    const printed =
      info.error !== undefined || tail.length === 0
        ? ''
        : `; it last printed:\n${tail.map((l) => `    ${l}`).join('\n')}`;
    const what = info.error !== undefined ? info.gaveUp : `${describeExit(info)}; ${info.gaveUp}`;
    const fix =
      info.error !== undefined
        ? `fix its command in ${this.opts.plan.file}, then run trellis up again`
        : this.opts.watch
          ? 'saving a file of it restarts it'
          : 'fix it and run trellis up again (with --watch, saving a file of it restarts it)';
    return `${what}${printed}\n  ${fix}`;
  }

  /** --watch: a change to the app's files restarts it (and a given-up app gets another try). */
  private watchApp(w: RunningWorkload): void {
    const ignored = [this.opts.plan.configDir, this.stateDir];
    const watcher = new AppWatcher({
      roots: watchRoots(w.plan.command, w.plan.workingDir),
      ignoredDirs: ignored,
      clock: this.opts.clock,
      onChange: (file) => {
        if (this.stopping) return;
        this.progress(w.plan.name, `${path.relative(w.plan.workingDir, file) || file} changed; restarting`);
        void w.supervisor?.restart(this.opts.stopGraceMs ?? 5000);
      },
      onError: (message) => this.progress(w.plan.name, `--watch: ${message}`),
    });
    watcher.start();
    w.watcher = watcher;
  }

  /** A sidecar's labels (its proxy's and its instances'): the plan's, and tlsMode when on. */
  private sidecarLabels(w: WorkloadPlan): Record<string, string> {
    return this.opts.sidecarMtls === false ? w.labels : { ...w.labels, [TLS_MODE_LABEL]: 'istio' };
  }

  /**
   * Once the app accepts connections on its ports: register the instance and say so. An app
   * that does not listen within the ready timeout fails the start of `up`; later (a restart),
   * it is reported and still waited for.
   */
  private async whenListening(w: RunningWorkload, pid: number, run: number): Promise<boolean> {
    const current = () => this.stopping || w.supervisor?.runs !== run || w.supervisor.pid !== pid;
    const timeoutMs = this.opts.readyTimeoutMs ?? 30_000;
    const started = this.opts.clock.now();
    const ports = Object.values(w.ports.app);
    let waited = await waitForPorts(
      '127.0.0.1',
      ports,
      current,
      () => this.opts.clock.now() - started >= timeoutMs,
    );
    if (waited.result === 'timeout') {
      const port = waited.port;
      const name = Object.keys(w.ports.app).find((n) => w.ports.app[n] === port) ?? '';
      const message = notListeningMessage({
        name: w.plan.name,
        port,
        servicePort: w.plan.ports.find((p) => p.name === name)?.port,
        envName: port === ports[0] ? 'PORT' : `PORT_${name.toUpperCase().replace(/-/g, '_')}`,
        timeoutMs,
        output: w.supervisor?.recentOutput() ?? [],
      });
      if (!this.running) throw new TrellisError('TRELLIS_IO', message);
      this.opts.write(`${message}\n`);
      waited = await waitForPorts('127.0.0.1', ports, current);
    }
    if (waited.result !== 'ready' || this.cp === undefined) return false;
    this.register(w);
    const inbound = Object.values(w.ports.inbound).join(',');
    this.progress(
      w.plan.name,
      `${run > 1 ? 'restarted and ' : ''}ready (pid ${pid}; app :${ports.join(',')}, sidecar in :${inbound} out :${w.proxy.outboundPort} admin :${w.proxy.adminPort})`,
    );
    return true;
  }

  private register(w: RunningWorkload): void {
    const cp = this.cp;
    if (cp === undefined) return;
    const id = `up/${w.plan.namespace}/${w.plan.name}`;
    cp.registrations.register({
      id,
      service: w.plan.service,
      namespace: w.plan.namespace,
      address: '127.0.0.1',
      ports: w.ports.inbound,
      labels: this.sidecarLabels(w.plan),
      workloadName: w.plan.name,
      serviceAccount: w.plan.serviceAccount,
      ttlSeconds: TTL_SECONDS,
    });
    w.registrationId = id;
    const beat = () => {
      w.heartbeat = this.opts.clock.setTimeout(() => {
        if (w.registrationId !== id) return;
        try {
          cp.registrations.heartbeat(id);
        } catch (err) {
          this.opts.logger.warn('heartbeat failed; registering again', { id, error: errorMessage(err) });
          this.register(w);
          return;
        }
        beat();
      }, HEARTBEAT_MS);
    };
    beat();
  }

  private deregister(w: RunningWorkload): void {
    w.heartbeat?.cancel();
    if (w.registrationId !== undefined) this.cp?.registrations.deregister(w.registrationId);
    w.registrationId = undefined;
  }

  /** Stops everything started, in reverse order. Safe to call more than once. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.requestStop();
    await this.starting;
    const grace = this.opts.stopGraceMs ?? 5000;
    for (const w of this.workloads) w.watcher?.close();
    await this.gateway?.stop(1000);
    await Promise.all(this.workloads.map((w) => w.supervisor?.stop(grace) ?? Promise.resolve()));
    await this.pidFile?.remove();
    for (const w of this.workloads) this.deregister(w);
    await Promise.all(this.workloads.map((w) => w.proxy.stop(1000)));
    for (const w of this.workloads) w.certificates.close();
    this.gatewayCertificates?.close();
    this.layered?.close();
    this.userStore?.close();
    await this.prometheus?.stop();
    await this.cp?.stop();
    await this.opts.netns?.teardown();
  }
}

/** A sidecar's xDS node id, as Istio names a pod's: `sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local`. */
export function sidecarId(w: Pick<WorkloadPlan, 'name' | 'namespace'>): string {
  return `sidecar~127.0.0.1~${w.name}.${w.namespace}~${w.namespace}.svc.cluster.local`;
}

/** A free port on 127.0.0.1 (bound and released: Prometheus binds it next). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOn(server, '127.0.0.1', 0);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
