import path from 'node:path';
import { errorMessage, formatProblem } from '../../core/errors.js';
import { parseAndValidate } from '../../api/parse.js';
import { keyOf, resourceKey, type Resource } from '../../api/resource.js';
import { isUnreadable, readConfigFiles, type ConfigFileEntry } from '../../config/config-files.js';
import { FrozenSnapshot } from '../../config/snapshot.js';
import { contributionFromConfig } from '../../registry/service-entries.js';
import { ServiceIndex } from '../../registry/service-index.js';
import { missingSubsets } from '../../xds/analysis/destination-subsets.js';
import { peerAuthenticationWarnings } from '../../xds/analysis/peer-authentication.js';
import { securityWarnings } from '../../xds/translate/security/authorization-warnings.js';
import { buildPushContext } from '../../xds/translate/push-context.js';
import { parseFlags } from '../args.js';
import type { Command, CommandIo } from '../command.js';

const USAGE = `Usage: trellis analyze FILE|DIR...

Validates Istio and Trellis resources in YAML/JSON files (directories are read recursively:
*.yaml, *.yml, *.json), then checks them against each other as the control plane would serve
them together (a VirtualService naming a subset no DestinationRule defines: Istio's IST0101),
and prints one line per problem:

  FILE:DOC: PATH: MESSAGE            an error (DOC is the 1-based document number)
  FILE:DOC: warning: PATH: MESSAGE   a warning

Exit status: 0 when there are no errors, 1 when there are, 2 on bad usage.`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

interface Target {
  /** The file's text, or why it could not be read. */
  entry: ConfigFileEntry;
  /** The name to print: relative as the user typed it. */
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

export async function analyze(args: string[], io: CommandIo): Promise<number> {
  let errors = 0;
  let warnings = 0;
  const files: Target[] = [];
  for (const arg of args) files.push(...(await filesOf(arg, io.cwd)));
  // The same resource defined twice: the later definition would silently replace the first.
  const seen = new Map<string, string>();
  // Valid resources (first definitions) for the checks across resources, and where each is.
  const valid = new Map<string, { resource: Resource; where: string }>();
  for (const { entry, shown } of files) {
    if (isUnreadable(entry)) {
      io.stdout(`${shown}: ${entry.message}\n`);
      errors++;
      continue;
    }
    const docs = parseAndValidate(entry.text, entry.file);
    for (const d of docs) {
      const where = `${shown}:${d.source.doc}`;
      for (const p of d.problems) {
        if (p.severity === 'error') {
          errors++;
          io.stdout(`${where}: ${formatProblem(p)}\n`);
        } else {
          warnings++;
          io.stdout(`${where}: warning: ${formatProblem(p)}\n`);
        }
      }
      if (d.ref !== undefined) {
        const key = resourceKey(d.ref.kind, d.ref.namespace, d.ref.name);
        const first = seen.get(key);
        if (first !== undefined) {
          errors++;
          io.stdout(
            `${where}: metadata.name: ${d.ref.kind} ${d.ref.namespace}/${d.ref.name} is already defined at ${first}\n`,
          );
        } else {
          seen.set(key, where);
          if (d.resource !== undefined) valid.set(key, { resource: d.resource, where });
        }
      }
    }
  }
  for (const line of crossResourceWarnings([...valid.values()])) {
    warnings++;
    io.stdout(`${line}\n`);
  }
  if (errors > 0) {
    io.stdout(`Error: ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`);
    return 1;
  }
  if (warnings > 0) {
    io.stdout(
      `✔ No errors found when analyzing ${plural(files.length, 'file')}; ${plural(warnings, 'warning')}\n`,
    );
    return 0;
  }
  io.stdout(`✔ No validation issues found when analyzing ${plural(files.length, 'file')}\n`);
  return 0;
}

/**
 * Problems between resources, found by the translation's own lookups on a push context built
 * from the files alone (services from their ServiceEntries), as `FILE:DOC: warning: PATH: MESSAGE`.
 */
function crossResourceWarnings(resources: readonly { resource: Resource; where: string }[]): string[] {
  const list = resources.map((r) => r.resource);
  const whereOf = new Map(resources.map((r) => [keyOf(r.resource), r.where]));
  const order = new Map(resources.map((r, i) => [keyOf(r.resource), i]));
  const services = new ServiceIndex();
  services.setSource(
    'config',
    contributionFromConfig(
      list.filter((r) => r.kind === 'ServiceEntry'),
      list.filter((r) => r.kind === 'WorkloadEntry'),
    ),
  );
  const push = buildPushContext(new FrozenSnapshot(1, list), services.snapshot());
  return [...missingSubsets(push), ...securityWarnings(push), ...peerAuthenticationWarnings(push)]
    .map((m) => ({ at: order.get(keyOf(m.resource)) ?? 0, m }))
    .sort((a, b) => a.at - b.at)
    .map(({ m }) => `${whereOf.get(keyOf(m.resource)) ?? '?'}: warning: ${m.path}: ${m.message}`);
}

export const command: Command = {
  name: 'analyze',
  summary: 'Validate Istio/Trellis resource files and report every problem with its field path.',
  usage: USAGE,
  async run(argv, io) {
    let positionals: string[];
    try {
      positionals = parseFlags('analyze', argv, {}).positionals;
    } catch (err) {
      io.stderr(`trellis analyze: ${errorMessage(err)}\n`);
      return 2;
    }
    if (positionals.length === 0) {
      io.stderr(`trellis analyze: expected at least one FILE or DIR\n\n${USAGE}\n`);
      return 2;
    }
    return analyze(positionals, io);
  },
};
