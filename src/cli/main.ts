import { TrellisError, errorMessage } from '../core/errors.js';
import type { Command, CommandIo } from './command.js';
import { processIo } from './command.js';

type Loader = () => Promise<Command>;

/**
 * Every subcommand, loaded lazily so `trellis analyze` does not pay for the proxy's imports.
 * Keep the list sorted by name.
 */
const COMMANDS: Record<string, Loader> = {
  analyze: async () => (await import('./commands/analyze.js')).command,
  apply: async () => (await import('./commands/apply.js')).command,
  check: async () => (await import('./commands/check.js')).command,
  completion: async () => (await import('./commands/completion.js')).command,
  'control-plane': async () => (await import('./commands/control-plane.js')).command,
  delete: async () => (await import('./commands/delete.js')).command,
  describe: async () => (await import('./commands/describe.js')).command,
  get: async () => (await import('./commands/get.js')).command,
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
};

async function topLevelHelp(): Promise<string> {
  const names = Object.keys(COMMANDS).sort();
  const commands = await Promise.all(names.map(async (n) => (COMMANDS[n] as Loader)()));
  const width = Math.max(...names.map((n) => n.length));
  return [
    'trellis: a service mesh that accepts Istio YAML and speaks xDS v3.',
    '',
    'Usage: trellis COMMAND [flags]      (trellis COMMAND --help for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(await topLevelHelp());
    return name === undefined ? 2 : 0;
  }
  const loader = COMMANDS[name];
  if (!loader) {
    io.stderr(`trellis: unknown command ${JSON.stringify(name)}; run 'trellis --help' for the list\n`);
    return 2;
  }
  const command = await loader();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.summary}\n\n${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    io.stderr(`trellis ${name}: ${errorMessage(err)}\n`);
    return err instanceof TrellisError && err.code === 'TRELLIS_INVALID_ARGUMENT' ? 2 : 1;
  }
}
