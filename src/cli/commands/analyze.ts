import { stat } from 'node:fs/promises';
import path from 'node:path';
import { TrellisError, errorMessage, formatProblem, type Problem } from '../../core/errors.js';
import { parseAndValidate, type ParsedDocument } from '../../api/parse.js';
import { keyOf, resourceKey, type Resource } from '../../api/resource.js';
import { isUnreadable, readConfigFiles, type ConfigFileEntry } from '../../config/config-files.js';
import { FrozenSnapshot } from '../../config/snapshot.js';
import { contributionFromConfig } from '../../registry/service-entries.js';
import { ServiceIndex } from '../../registry/service-index.js';
import type { Endpoint } from '../../registry/types.js';
import { missingSubsets } from '../../xds/analysis/destination-subsets.js';
import { envoyFilterFindings } from '../../xds/analysis/envoy-filter.js';
import { MESSAGES, typeOf, type Level } from '../../xds/analysis/messages.js';
import { peerAuthenticationWarnings } from '../../xds/analysis/peer-authentication.js';
import { referenceFindings } from '../../xds/analysis/references.js';
import { securityWarnings } from '../../xds/translate/security/authorization-warnings.js';
import { buildPushContext } from '../../xds/translate/push-context.js';
import { registeredKinds } from '../../api/kinds.js';
import { deriveSnapshot } from '../../controllers/derivation.js';
import { defaultDerivations } from '../../controllers/derivations.js';
import { parseFlags } from '../args.js';
import type { Command, CommandIo } from '../command.js';
import { derivedResources, SERVICE_LABEL, serviceHost, type WorkloadPorts } from '../up/derived.js';
import { loadMesh, TLS_MODE_LABEL, type MeshPlan } from '../up/manifest.js';

const USAGE = `Usage: trellis analyze FILE|DIR|mesh.yaml... [-f FILE]... [--each] [--allow-empty]
                       [--failure-threshold Error|Warning|Info] [-A] [-L]

Validates Istio and Trellis resources in YAML/JSON files (directories are read recursively:
*.yaml, *.yml, *.json), then checks them against each other as the control plane would serve
them together, with istioctl's codes, and prints one line per problem:

  FILE:DOC: PATH: [CODE] MESSAGE            an error (DOC is the 1-based document number)
  FILE:DOC: warning: PATH: [CODE] MESSAGE   a warning
  FILE:DOC: info: PATH: [CODE] MESSAGE      information

followed by one line per code found on what it means and how to fix it (all codes: -L).

A mesh manifest (mesh.yaml of kind Mesh, or a directory holding one) means its config
directory, checked with the manifest's workloads as the service registry: only then are hosts,
DestinationRule hosts, subsets and Sidecar selectors checked against the services and workloads
that exist (a bare directory's services may also come from registrations no file shows).

Files that define the same resource are alternatives (like bookinfo's scenarios/): a warning
(TRL0102); the first one is checked with the rest. --each checks every file on its own, in place
of the files defining the same resources, and prints what is found in it.

  -f, --filename PATH        a file or directory, as a positional argument (repeatable)
  -A, --all-namespaces       accepted for istioctl habits: files are analyzed in every namespace
  --each                     analyze each file as an alternative, one at a time
  --allow-empty              no YAML to analyze is fine (default: a warning, exit 1)
  --failure-threshold LEVEL  the lowest level that makes the exit status 1 (default Error)
  -L, --list-analyzers       list the codes this command reports, with what to do about each

Exit status: 0 when nothing reaches the failure threshold, 1 when something does, 2 bad usage.`;

const LEVELS: readonly Level[] = ['Info', 'Warning', 'Error'];
const SEVERITY: Record<Level, number> = { Info: 0, Warning: 1, Error: 2 };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

interface Target {
  /** The file's text, or why it could not be read. */
  entry: ConfigFileEntry;
  /** The name to print: relative as the user typed it. */
  shown: string;
}

interface Line {
  level: Level;
  text: string;
  /** The file it is about, for --each. */
  shown: string;
}

/**
 * Files named by one argument (a file, or a directory read recursively), by the rule the control
 * plane's directory store uses (config/config-files.ts), so analyze checks what it would load.
 */
async function filesOf(arg: string, cwd: string): Promise<Target[]> {
  const abs = path.resolve(cwd, arg);
  return (await readConfigFiles(abs)).map((entry) => ({
    entry,
    shown: entry.file === abs ? arg : path.join(arg, path.relative(abs, entry.file)),
  }));
}

/** A Mesh manifest: a directory holding mesh.yaml, or a file with a document of kind Mesh. */
async function manifestOf(arg: string, cwd: string): Promise<string | undefined> {
  const abs = path.resolve(cwd, arg);
  const st = await stat(abs).catch(() => undefined);
  if (st?.isDirectory()) {
    const file = path.join(abs, 'mesh.yaml');
    return (await stat(file).catch(() => undefined))?.isFile() ? file : undefined;
  }
  if (!st?.isFile()) return undefined;
  const entry = (await readConfigFiles(abs))[0];
  if (entry === undefined || isUnreadable(entry)) return undefined;
  return /^kind:\s*['"]?Mesh['"]?\s*$/m.test(entry.text) ? abs : undefined;
}

/** The mesh.yaml beside a directory whose config directory it is (bookinfo/config), as typed. */
async function manifestRunning(arg: string, cwd: string): Promise<string | undefined> {
  const abs = path.resolve(cwd, arg);
  const candidate = path.join(path.dirname(abs), 'mesh.yaml');
  if (!(await stat(candidate).catch(() => undefined))?.isFile()) return undefined;
  try {
    const plan = await loadMesh(candidate, cwd);
    return plan.configDir === abs ? path.relative(cwd, candidate) || candidate : undefined;
  } catch {
    return undefined;
  }
}

/** What `trellis up` would register for the manifest's workloads, as the service registry. */
function manifestRegistry(plan: MeshPlan): { resources: Resource[]; endpoints: Endpoint[] } {
  const ports = new Map<string, WorkloadPorts>(
    plan.workloads.map((w) => {
      const byName = Object.fromEntries(w.ports.map((p) => [p.name, p.port]));
      return [w.name, { app: byName, inbound: byName }];
    }),
  );
  const endpoints = plan.workloads.map((w): Endpoint => ({
    hostname: serviceHost(w),
    namespace: w.namespace,
    address: '127.0.0.1',
    ports: Object.fromEntries(w.ports.map((p) => [p.name, p.port])),
    labels: { ...w.labels, [SERVICE_LABEL]: w.service, [TLS_MODE_LABEL]: 'istio' },
    locality: '',
    weight: 1,
    healthy: true,
    workloadName: w.name,
    serviceAccount: w.serviceAccount,
  }));
  return { resources: derivedResources(plan, ports, plan.gateway?.port), endpoints };
}

interface Parsed {
  shown: string;
  unreadable?: string;
  docs: ParsedDocument[];
}

function problemLine(where: string, p: Problem): Line {
  return p.severity === 'error'
    ? { level: 'Error', text: `${where}: ${formatProblem(p)}`, shown: where }
    : { level: 'Warning', text: `${where}: warning: ${formatProblem(p)}`, shown: where };
}

function findingLine(where: string, level: Level, p: string, message: string): Line {
  const tag = level === 'Error' ? '' : level === 'Warning' ? 'warning: ' : 'info: ';
  return { level, text: `${where}: ${tag}${p}: ${message}`, shown: where };
}

/**
 * The lines for one set of files analyzed together: each document's problems, resources
 * defined twice, then the problems between resources.
 */
function analyzeSet(
  files: readonly Parsed[],
  manifest: ReturnType<typeof manifestRegistry> | undefined,
): Line[] {
  const lines: Line[] = [];
  const seen = new Map<string, { where: string; shown: string }>();
  const valid = new Map<string, { resource: Resource; where: string }>();
  for (const f of files) {
    if (f.unreadable !== undefined) {
      lines.push({ level: 'Error', text: `${f.shown}: ${f.unreadable}`, shown: f.shown });
      continue;
    }
    for (const d of f.docs) {
      const where = `${f.shown}:${d.source.doc}`;
      for (const p of d.problems) lines.push({ ...problemLine(where, p), shown: f.shown });
      if (d.ref === undefined) continue;
      const key = resourceKey(d.ref.kind, d.ref.namespace, d.ref.name);
      const first = seen.get(key);
      const what = `${d.ref.kind} ${d.ref.namespace}/${d.ref.name}`;
      if (first === undefined) {
        seen.set(key, { where, shown: f.shown });
        if (d.resource !== undefined) valid.set(key, { resource: d.resource, where });
      } else if (first.shown === f.shown) {
        lines.push({
          level: 'Error',
          text: `${where}: metadata.name: ${what} is already defined at ${first.where}`,
          shown: f.shown,
        });
      } else {
        lines.push({
          level: 'Warning',
          text: `${where}: warning: metadata.name: [${MESSAGES.AlternativeDefinitions.code}] ${what} is also defined at ${first.where}; these files are alternatives (a control plane loading both rejects the later one): analyze them one at a time with --each`,
          shown: f.shown,
        });
      }
    }
  }
  lines.push(...crossResourceLines([...valid.values()], manifest));
  return lines;
}

/**
 * Problems between resources, found by the translation's own lookups on a push context built
 * from the files (services from their ServiceEntries, and a manifest's workloads), and by the
 * reference analyzers.
 */
function crossResourceLines(
  resources: readonly { resource: Resource; where: string }[],
  manifest: ReturnType<typeof manifestRegistry> | undefined,
): Line[] {
  const mine = resources.map((r) => r.resource);
  const written = [
    ...mine,
    ...(manifest?.resources ?? []).filter((r) => !resources.some((m) => keyOf(m.resource) === keyOf(r))),
  ];
  const whereOf = new Map(resources.map((r) => [keyOf(r.resource), r.where]));
  const order = new Map(resources.map((r, i) => [keyOf(r.resource), i]));
  // The analyzers see the config as the control plane serves it: after the derivations (Gateway
  // API routes as VirtualServices, TrafficFilters layered in), whose own problems are reported
  // on the written resource they are about.
  const derived = deriveSnapshot(new FrozenSnapshot(1, written), defaultDerivations());
  const list = registeredKinds().flatMap(({ kind }) => derived.snapshot.list(kind));
  const derivationFindings = derived.problems.flatMap((dp) => {
    const key = resourceKey(dp.source.kind, dp.source.namespace, dp.source.name);
    return dp.problems.map((p) => ({ key, p }));
  });
  const services = new ServiceIndex();
  services.setSource(
    'config',
    contributionFromConfig(
      list.filter((r) => r.kind === 'ServiceEntry'),
      list.filter((r) => r.kind === 'WorkloadEntry'),
    ),
  );
  if (manifest) services.setSource('manifest', { services: [], endpoints: manifest.endpoints });
  const registry = services.snapshot();
  const push = buildPushContext(new FrozenSnapshot(1, list), registry);
  const found: { resource: Resource; path: string; message: string; level: Level }[] = [
    ...missingSubsets(push).map((m) => ({ ...m, level: MESSAGES.ReferencedResourceNotFound.level })),
    ...securityWarnings(push).map((m) => ({ ...m, level: 'Warning' as const })),
    ...peerAuthenticationWarnings(push).map((m) => ({ ...m, level: 'Warning' as const })),
    ...envoyFilterFindings(list),
    ...referenceFindings({
      resources: list,
      ...(manifest ? { registry } : {}),
    }).map((f) => ({ ...f, level: f.type.level })),
  ];
  const lines = [
    ...derivationFindings
      .filter((d) => whereOf.has(d.key))
      .map((d) => ({ at: order.get(d.key) ?? 0, line: problemLine(whereOf.get(d.key) ?? '?', d.p) })),
    ...found
      .filter((m) => whereOf.has(keyOf(m.resource)))
      .map((m) => {
        const where = whereOf.get(keyOf(m.resource)) ?? '?';
        return {
          at: order.get(keyOf(m.resource)) ?? 0,
          line: findingLine(where, m.level, m.path, m.message),
        };
      }),
  ];
  return lines
    .sort((a, b) => a.at - b.at)
    .map(({ line }) => ({ ...line, shown: line.shown.replace(/:\d+$/, '') }));
}

function docLines(lines: readonly Line[]): string[] {
  const codes = new Set<string>();
  for (const l of lines) {
    const m = /\[([A-Z]+\d+)\]/.exec(l.text);
    if (m) codes.add(m[1] as string);
  }
  return [...codes].sort().flatMap((code) => {
    const t = typeOf(`[${code}]`);
    return t ? [`  ${t.code} ${t.name}: ${t.doc}`] : [];
  });
}

export interface AnalyzeOptions {
  each?: boolean;
  allowEmpty?: boolean;
  failureThreshold?: Level;
}

export async function analyze(args: string[], io: CommandIo, options: AnalyzeOptions = {}): Promise<number> {
  const threshold = SEVERITY[options.failureThreshold ?? 'Error'];
  const targets: Target[] = [];
  const lines: Line[] = [];
  let manifest: ReturnType<typeof manifestRegistry> | undefined;
  for (const arg of args) {
    const meshFile = await manifestOf(arg, io.cwd);
    if (meshFile === undefined) {
      const runBy = await manifestRunning(arg, io.cwd);
      if (runBy !== undefined)
        io.stdout(
          `note: ${runBy} runs this directory; analyze it instead (trellis analyze ${runBy}) to check references against its gateway and workloads\n`,
        );
      targets.push(...(await filesOf(arg, io.cwd)));
      continue;
    }
    let plan: MeshPlan;
    try {
      plan = await loadMesh(meshFile, io.cwd);
    } catch (err) {
      // Its message names the manifest relative to where analyze runs, line by line.
      const text = err instanceof Error ? err.message : errorMessage(err);
      io.stdout(`${text}\n`);
      lines.push({ level: 'Error', text, shown: arg });
      continue;
    }
    const rel = path.relative(io.cwd, plan.configDir) || '.';
    io.stdout(
      `Analyzing mesh ${plan.name}: config ${rel}, with its ${plural(plan.workloads.length, 'workload')} as the service registry\n`,
    );
    const reg = manifestRegistry(plan);
    manifest = manifest
      ? {
          resources: [...manifest.resources, ...reg.resources],
          endpoints: [...manifest.endpoints, ...reg.endpoints],
        }
      : reg;
    targets.push(...(await filesOf(rel, io.cwd)));
  }
  if (targets.length === 0 && lines.length === 0) {
    io.stdout(`warning: no YAML or JSON files in ${args.join(', ')}: nothing was analyzed\n`);
    if (options.allowEmpty) return 0;
    io.stdout('Error: nothing to analyze; check the path, or pass --allow-empty if that is expected\n');
    return 1;
  }
  // A file named twice (a mesh.yaml and its config directory) is analyzed once.
  const unique = targets.filter((t, i) => targets.findIndex((o) => o.entry.file === t.entry.file) === i);
  const parsed: Parsed[] = unique.map(({ entry, shown }) =>
    isUnreadable(entry)
      ? { shown, unreadable: entry.message, docs: [] }
      : { shown, docs: parseAndValidate(entry.text, entry.file) },
  );
  if (options.each) {
    const keys = (p: Parsed) =>
      new Set(p.docs.flatMap((d) => (d.ref ? [resourceKey(d.ref.kind, d.ref.namespace, d.ref.name)] : [])));
    for (const f of parsed) {
      const own = keys(f);
      const rest = parsed.filter((o) => o !== f && ![...keys(o)].some((k) => own.has(k)));
      io.stdout(`--- ${f.shown} (with ${plural(rest.length, 'other file')})\n`);
      const found = analyzeSet([...rest, f], manifest).filter((l) => l.shown === f.shown);
      lines.push(...found);
      for (const l of found) io.stdout(`${l.text}\n`);
    }
  } else {
    const found = analyzeSet(parsed, manifest);
    lines.push(...found);
    for (const l of found) io.stdout(`${l.text}\n`);
  }
  const errors = lines.filter((l) => l.level === 'Error').length;
  const warnings = lines.filter((l) => l.level === 'Warning').length;
  const docs = docLines(lines);
  if (docs.length > 0) io.stdout(`${docs.join('\n')}\n`);
  const failing = lines.some((l) => SEVERITY[l.level] >= threshold);
  const files = plural(parsed.length, 'file');
  if (errors > 0 || failing) {
    io.stdout(
      `Error: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}` +
        (errors === 0 ? ` (--failure-threshold ${options.failureThreshold ?? 'Error'})` : '') +
        '\n',
    );
    return 1;
  }
  if (warnings > 0) {
    io.stdout(`✔ No errors found when analyzing ${files}; ${plural(warnings, 'warning')}\n`);
    return 0;
  }
  io.stdout(`✔ No validation issues found when analyzing ${files}\n`);
  return 0;
}

function listAnalyzers(): string {
  return (
    Object.values(MESSAGES)
      .map((t) => `${t.code}  ${t.name} (${t.level})\n        ${t.doc}`)
      .join('\n') + '\n'
  );
}

export const command: Command = {
  name: 'analyze',
  summary: "Check Istio/Trellis resource files, alone and against each other, with istioctl's codes.",
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags('analyze', argv, {
      filename: { type: 'string', short: 'f', multiple: true },
      'all-namespaces': { type: 'boolean', short: 'A', default: false },
      each: { type: 'boolean', default: false },
      'allow-empty': { type: 'boolean', default: false },
      'failure-threshold': { type: 'string', default: 'Error' },
      'list-analyzers': { type: 'boolean', short: 'L', default: false },
    });
    if (values['list-analyzers']) {
      io.stdout(listAnalyzers());
      return 0;
    }
    const threshold = LEVELS.find((l) => l.toLowerCase() === values['failure-threshold'].toLowerCase());
    if (threshold === undefined)
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--failure-threshold ${values['failure-threshold']}: expected one of ${LEVELS.join(', ')}`,
      );
    const targets = [...(values.filename ?? []), ...positionals];
    if (targets.length === 0) {
      io.stderr(`trellis analyze: expected at least one FILE, DIR or mesh.yaml\n\n${USAGE}\n`);
      return 2;
    }
    return analyze(targets, io, {
      each: values.each,
      allowEmpty: values['allow-empty'],
      failureThreshold: threshold,
    });
  },
};
