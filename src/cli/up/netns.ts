/**
 * `trellis up --capture netns` (root only): every workload's app runs in its own network
 * namespace with its own address, and iptables sends its TCP to and from its sidecar, so apps
 * call `http://reviews:9080` with no proxy settings at all.
 *
 * Layout (one netns mesh per machine at a time; everything is named with the `trellis` prefix
 * so a crashed run's leftovers are found and removed on the next start):
 *
 *   host: bridge trellis0 10.250.0.1/24 with route_localnet (loopback addresses may be routed
 *     to and from it), the sidecars unchanged on 127.0.0.1 in the `up` process
 *     |-- veth trv<i> <-> eth0 in netns trellis-<mesh>-<i>: 10.250.0.<i+2>/32, default via .1
 *     (a /32 with the host as the only neighbour: even a call to another namespace's address
 *     reaches the host and its rules, as a pod's traffic reaches its own iptables)
 *   /etc/netns/<ns>/hosts (bind-mounted over /etc/hosts by `ip netns exec`): each service name
 *     -> a virtual address 10.251.x.y that exists nowhere (the ServiceEntry's address, so TCP
 *     services get `VIP_PORT` listeners), so connections to it take the default route
 *   outbound, nat PREROUTING -i trellis0 -> TRELLIS-UP: TCP from 10.250.0.<i+2> to anything
 *     but the host -> DNAT 127.0.0.1:<its sidecar's outbound port>; the sidecar reads the
 *     address dialled with SO_ORIGINAL_DST and picks the listener for it (HTTP by Host, TCP by
 *     VIP and port, anything else passed through to where it was going)
 *   inbound, nat OUTPUT -> TRELLIS-UP-IN, two kinds of rules:
 *     - what a sidecar forwards to its app (127.0.0.1:APP, as Istio's inbound clusters do)
 *       -> DNAT 10.250.0.<i+2>:APP, with nat POSTROUTING -o trellis0 from 127.0.0.1 -> SNAT
 *       10.250.0.1 (a namespace cannot answer a loopback source);
 *     - anything else sent to a workload's address and app port (a passed-through call by
 *       address, or a client on the host) -> DNAT 127.0.0.1:IN, its sidecar's inbound
 *       listener, so no call reaches an app around its sidecar. The first rule a connection
 *       matches NATs it, once: the sidecar's own forward does not loop.
 *
 * Why the sidecar stays outside the namespace and the NAT is done on the host: the sidecars
 * share the `up` process, and NAT in the namespace where the sidecar's socket lives is what
 * lets SO_ORIGINAL_DST (native/) read the address the app dialled. Outside the namespace the
 * sidecar's own connections never match the outbound rule (they leave the host through OUTPUT,
 * and replies are not new connections), so no uid exclusion is needed, which is what Istio's
 * init container uses the uid for.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { TrellisError } from '../../core/errors.js';

export const BRIDGE = 'trellis0';
export const HOST_ADDRESS = '10.250.0.1';
export const CHAIN = 'TRELLIS-UP';
export const IN_CHAIN = 'TRELLIS-UP-IN';
const NS_PREFIX = 'trellis-';
const MAX_WORKLOADS = 250;

/** Runs one command; resolves with its exit code and output (never rejects on exit codes). */
export type CommandRunner = (
  argv: readonly string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

export const execRunner: CommandRunner = (argv) =>
  new Promise((resolve) => {
    const [program, ...args] = argv;
    execFile(program ?? '', args, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 127;
      resolve({ code, stdout, stderr: stderr || (err?.message ?? '') });
    });
  });

export interface NetnsWorkload {
  name: string;
  /** Network namespace name. */
  ns: string;
  /** Host end of the veth pair. */
  veth: string;
  /** The workload's own address. */
  address: string;
}

export function namespaceName(mesh: string, index: number): string {
  const safe = mesh.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return `${NS_PREFIX}${safe}-${index}`;
}

export function workloadLayout(mesh: string, names: readonly string[]): NetnsWorkload[] {
  if (names.length > MAX_WORKLOADS) {
    throw new TrellisError(
      'TRELLIS_UNSUPPORTED',
      `--capture netns supports at most ${MAX_WORKLOADS} workloads (one /24); the mesh has ${names.length}`,
    );
  }
  return names.map((name, i) => ({
    name,
    ns: namespaceName(mesh, i),
    veth: `trv${i}`,
    address: `10.250.0.${i + 2}`,
  }));
}

/** The virtual address each service name resolves to inside the namespaces. */
export function serviceAddresses(services: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of services)
    if (!out.has(s)) out.set(s, `10.251.${Math.floor(out.size / 250)}.${(out.size % 250) + 1}`);
  return out;
}

/** /etc/hosts for a namespace: localhost, the workload's own name, and every service. */
export function hostsFile(
  self: NetnsWorkload,
  services: ReadonlyMap<string, string>,
  namespaceOf: ReadonlyMap<string, string>,
): string {
  const lines = ['127.0.0.1 localhost', '::1 localhost', `${self.address} ${self.name}`];
  for (const [service, vip] of services) {
    const ns = namespaceOf.get(service) ?? 'default';
    lines.push(`${vip} ${service} ${service}.${ns} ${service}.${ns}.svc ${service}.${ns}.svc.cluster.local`);
  }
  return lines.join('\n') + '\n';
}

const nat = (...argv: string[]) => ['iptables', '-w', '-t', 'nat', ...argv];
const LOCAL = '127.0.0.1/32';
const SUBNET = '10.250.0.0/24';

/** Hooks: [chain, jump rule] pairs, also what cleanup deletes. */
const HOOKS: string[][] = [
  ['PREROUTING', '-i', BRIDGE, '-j', CHAIN],
  ['OUTPUT', '-d', LOCAL, '-p', 'tcp', '-j', IN_CHAIN],
  ['OUTPUT', '-d', SUBNET, '-p', 'tcp', '-j', IN_CHAIN],
  ['POSTROUTING', '-o', BRIDGE, '-s', LOCAL, '-j', 'SNAT', '--to-source', HOST_ADDRESS],
];

export function hostCommands(): string[][] {
  return [
    ['ip', 'link', 'add', BRIDGE, 'type', 'bridge'],
    ['ip', 'addr', 'add', `${HOST_ADDRESS}/24`, 'dev', BRIDGE],
    ['sysctl', '-q', '-w', `net.ipv4.conf.${BRIDGE}.route_localnet=1`],
    ['ip', 'link', 'set', BRIDGE, 'up'],
    nat('-N', CHAIN),
    nat('-N', IN_CHAIN),
    ...HOOKS.map((h) => nat('-A', ...h)),
  ];
}

export function workloadCommands(w: NetnsWorkload): string[][] {
  const inNs = (...argv: string[]) => ['ip', '-n', w.ns, ...argv];
  return [
    ['ip', 'netns', 'add', w.ns],
    ['ip', 'link', 'add', w.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', w.ns],
    ['ip', 'link', 'set', w.veth, 'master', BRIDGE, 'up'],
    inNs('addr', 'add', `${w.address}/32`, 'dev', 'eth0'),
    inNs('link', 'set', 'lo', 'up'),
    inNs('link', 'set', 'eth0', 'up'),
    inNs('route', 'add', `${HOST_ADDRESS}/32`, 'dev', 'eth0', 'scope', 'link'),
    inNs('route', 'add', 'default', 'via', HOST_ADDRESS, 'dev', 'eth0'),
  ];
}

/**
 * The workload's outbound TCP (to anything but the host) goes to its sidecar's outbound
 * capture; what its sidecar forwards to 127.0.0.1:APP goes to the app in the namespace; what
 * anyone else sends to the app's address and port goes to its sidecar's inbound listener.
 */
export function captureCommands(
  w: NetnsWorkload,
  outboundPort: number,
  ports: readonly { app: number; inbound: number }[],
): string[][] {
  return [
    nat('-A', CHAIN, '-s', `${w.address}/32`, '!', '-d', `${HOST_ADDRESS}/32`, '-p', 'tcp',
      '-j', 'DNAT', '--to-destination', `127.0.0.1:${outboundPort}`),
    ...ports.flatMap(({ app, inbound }) => [
      nat('-A', IN_CHAIN, '-d', LOCAL, '-p', 'tcp', '--dport', String(app),
        '-j', 'DNAT', '--to-destination', `${w.address}:${app}`),
      nat('-A', IN_CHAIN, '-d', `${w.address}/32`, '-p', 'tcp', '--dport', String(app),
        '-j', 'DNAT', '--to-destination', `127.0.0.1:${inbound}`),
    ]),
  ]; // prettier-ignore
}

/** Removes everything any run made; each command may fail when its object is already gone. */
export function cleanupCommands(namespaces: readonly string[]): string[][] {
  return [
    ...HOOKS.map((h) => nat('-D', ...h)),
    ...[CHAIN, IN_CHAIN].flatMap((c) => [nat('-F', c), nat('-X', c)]),
    // Deleting a namespace deletes its veth end, and with it the host end.
    ...namespaces.map((ns) => ['ip', 'netns', 'del', ns]),
    ['ip', 'link', 'del', BRIDGE],
  ];
}

/** The command that runs a workload's app inside its namespace. */
export function wrapCommand(w: NetnsWorkload, command: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', w.ns, ...command];
}

export interface NetnsCaptureOptions {
  mesh: string;
  run?: CommandRunner;
  /** Where `ip netns exec` looks for per-namespace files; /etc/netns. */
  etcNetns?: string;
  /** Where `ip netns` keeps namespaces; /run/netns. */
  runNetns?: string;
  /** Network interfaces; /sys/class/net. */
  sysClassNet?: string;
  /** Kills a leftover process; process.kill. */
  kill?: (pid: number) => void;
  isRoot?: boolean;
}

/** Creates and removes the namespaces, bridge and rules for one `up` run. */
export class NetnsCapture {
  private readonly run: CommandRunner;
  private readonly etcNetns: string;
  private readonly runNetns: string;
  private readonly sysClassNet: string;
  private created: string[] = [];
  private active = false;

  constructor(private readonly opts: NetnsCaptureOptions) {
    this.run = opts.run ?? execRunner;
    this.etcNetns = opts.etcNetns ?? '/etc/netns';
    this.runNetns = opts.runNetns ?? '/run/netns';
    this.sysClassNet = opts.sysClassNet ?? '/sys/class/net';
  }

  /** Fails with what is missing when this machine cannot do netns capture. */
  async check(): Promise<void> {
    const root = this.opts.isRoot ?? process.getuid?.() === 0;
    if (!root)
      throw new TrellisError(
        'TRELLIS_UNSUPPORTED',
        '--capture netns needs root (network namespaces and iptables)',
      );
    for (const tool of [
      ['ip', '-V'],
      ['iptables', '-V'],
    ]) {
      const r = await this.run(tool);
      if (r.code !== 0) {
        throw new TrellisError(
          'TRELLIS_UNSUPPORTED',
          `--capture netns needs \`${tool[0]}\` (Debian: apt-get install iproute2 iptables): ${r.stderr.trim()}`,
        );
      }
    }
  }

  /**
   * Removes leftovers of a crashed run: the apps still running in `trellis-*` namespaces (they
   * would keep the namespaces and their veths alive), the namespaces, veths, bridge and chains.
   */
  async removeLeftovers(): Promise<void> {
    const leftovers = (await readdir(this.runNetns).catch(() => [] as string[])).filter((n) =>
      n.startsWith(NS_PREFIX),
    );
    const kill = this.opts.kill ?? ((pid: number) => process.kill(pid, 'SIGKILL'));
    for (const ns of leftovers) {
      const r = await this.run(['ip', 'netns', 'pids', ns]);
      for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
        try {
          kill(pid);
        } catch {
          // Already gone.
        }
      }
    }
    const veths = (await readdir(this.sysClassNet).catch(() => [] as string[])).filter((n) =>
      /^trv\d+$/.test(n),
    );
    await this.runAll(cleanupCommands(leftovers), false);
    await this.runAll(
      veths.map((v) => ['ip', 'link', 'del', v]),
      false,
    );
    await Promise.all(
      leftovers.map((ns) => rm(path.join(this.etcNetns, ns), { recursive: true, force: true })),
    );
  }

  /** Creates the bridge, the chain and one namespace per workload (after removing leftovers). */
  async setup(workloads: readonly NetnsWorkload[], hosts: (w: NetnsWorkload) => string): Promise<void> {
    this.active = true;
    await this.removeLeftovers();
    await this.runAll(hostCommands(), true);
    for (const w of workloads) {
      this.created.push(w.ns);
      await mkdir(path.join(this.etcNetns, w.ns), { recursive: true });
      await writeFile(path.join(this.etcNetns, w.ns, 'hosts'), hosts(w));
      await this.runAll(workloadCommands(w), true);
    }
  }

  async capture(
    w: NetnsWorkload,
    outboundPort: number,
    ports: readonly { app: number; inbound: number }[],
  ): Promise<void> {
    await this.runAll(captureCommands(w, outboundPort, ports), true);
  }

  /** Removes what setup made. Safe to call more than once and after a failed setup. */
  async teardown(): Promise<void> {
    // Before setup the bridge and chains, if any, belong to someone else.
    if (!this.active) return;
    this.active = false;
    const namespaces = this.created;
    this.created = [];
    await this.runAll(cleanupCommands(namespaces), false);
    await Promise.all(
      namespaces.map((ns) => rm(path.join(this.etcNetns, ns), { recursive: true, force: true })),
    );
  }

  private async runAll(commands: readonly string[][], strict: boolean): Promise<void> {
    for (const argv of commands) {
      const r = await this.run(argv);
      if (r.code !== 0 && strict) {
        throw new TrellisError('TRELLIS_IO', `\`${argv.join(' ')}\` failed: ${r.stderr.trim()}`);
      }
    }
  }
}
