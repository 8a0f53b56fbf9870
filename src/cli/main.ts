import { TrellisError, errorMessage } from '../core/errors.js';
import type { Command, CommandIo } from './command.js';
import { processIo } from './command.js';
import { didYouMean } from './did-you-mean.js';
import { FLAG_VOCABULARY } from './flag-vocabulary.js';
import { portClashMessage } from './port-clash.js';
import { withRunContext, type RunContext } from './run-context.js';
import { trellisVersion } from '../controlplane/build-info.js';

type Loader = () => Promise<Command>;

/**
 * Every subcommand, loaded lazily so `trellis analyze` does not pay for the proxy's imports.
 * Keep the list sorted by name.
 */
const COMMANDS: Record<string, Loader> = {
  agent: async () => (await import('./commands/agent.js')).command,
  analyze: async () => (await import('./commands/analyze.js')).command,
  apply: async () => (await import('./commands/apply.js')).command,
  check: async () => (await import('./commands/check.js')).command,
  completion: async () => (await import('./commands/completion.js')).command,
  'control-plane': async () => (await import('./commands/control-plane.js')).command,
  delete: async () => (await import('./commands/delete.js')).command,
  describe: async () => (await import('./commands/describe.js')).command,
  explain: async () => (await import('./commands/explain.js')).command,
  get: async () => (await import('./commands/get.js')).command,
  graph: async () => (await import('./commands/graph.js')).command,
  proxy: async () => (await import('./commands/proxy.js')).command,
  'proxy-config': async () => (await import('./commands/proxy-config.js')).command,
  'proxy-status': async () => (await import('./commands/proxy-status.js')).command,
  ratelimit: async () => (await import('./commands/ratelimit.js')).command,
  stat: async () => (await import('./commands/stat.js')).command,
  tap: async () => (await import('./commands/tap.js')).command,
  token: async () => (await import('./commands/token.js')).command,
  top: async () => (await import('./commands/top.js')).command,
  up: async () => (await import('./commands/up.js')).command,
  version: async () => (await import('./commands/version.js')).command,
  wait: async () => (await import('./commands/wait.js')).command,
};

async function topLevelHelp(): Promise<string> {
  const names = Object.keys(COMMANDS).sort();
  const commands = await Promise.all(names.map(async (n) => (COMMANDS[n] as Loader)()));
  const width = Math.max(...names.map((n) => n.length));
  return [
    'trellis: a service mesh that accepts Istio YAML and speaks xDS v3.',
    '',
    'Usage: trellis COMMAND [flags]      (trellis help COMMAND, or trellis COMMAND --help, for details)',
    '       trellis --version            (-v)',
    '       trellis help flags           the flags every command shares, and their old spellings',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit status: 0 success, 1 failure, 2 bad usage (unknown command or flag, malformed value).',
    '',
  ].join('\n');
}

function unknownCommand(name: string, io: CommandIo): number {
  if (name.startsWith('-')) {
    const hint = didYouMean(name, ['--help', '--version']);
    io.stderr(`trellis: unknown flag ${name}${hint}; flags go after the command: trellis COMMAND [flags]\n`);
    return 2;
  }
  const hint = didYouMean(name, Object.keys(COMMANDS));
  io.stderr(`trellis: unknown command ${JSON.stringify(name)}${hint}; run 'trellis --help' for the list\n`);
  return 2;
}

/** `trellis help [COMMAND|flags]`. */
async function help(topic: string | undefined, io: CommandIo): Promise<number> {
  if (topic === undefined) {
    io.stdout(await topLevelHelp());
    return 0;
  }
  if (topic === 'flags') {
    io.stdout(FLAG_VOCABULARY);
    return 0;
  }
  const loader = COMMANDS[topic];
  if (!loader) return unknownCommand(topic, io);
  const command = await loader();
  io.stdout(`${command.summary}\n\n${command.usage}\n`);
  return 0;
}

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stdout(await topLevelHelp());
    return 2;
  }
  if (name === '--help' || name === '-h') return help(undefined, io);
  if (name === 'help') return help(rest[0], io);
  if (name === '--version' || name === '-v') {
    io.stdout(`trellis ${trellisVersion()}\n`);
    return 0;
  }
  const loader = COMMANDS[name];
  if (!loader) return unknownCommand(name, io);
  const command = await loader();
  const end = rest.indexOf('--');
  const flags = end < 0 ? rest : rest.slice(0, end);
  if (flags.includes('--help') || flags.includes('-h')) return help(name, io);
  const ctx: RunContext = { command: name, note: io.stderr, ports: [] };
  try {
    return await withRunContext(ctx, () => command.run(rest, io));
  } catch (err) {
    const clash = portClashMessage(err, name, ctx.ports);
    io.stderr(`trellis ${name}: ${clash ?? errorMessage(err)}\n`);
    return err instanceof TrellisError && err.code === 'TRELLIS_INVALID_ARGUMENT' ? 2 : 1;
  }
}
