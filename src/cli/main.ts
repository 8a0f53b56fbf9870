import { TrellisError, errorMessage } from '../core/errors.js';
import type { Command, CommandIo } from './command.js';
import { processIo } from './command.js';

type Loader = () => Promise<Command>;

/**
 * Every subcommand, loaded lazily so `trellis analyze` does not pay for the proxy's imports.
 * Keep the list sorted by name.
 */
const COMMANDS: Record<string, Loader> = {
  version: async () => (await import('./commands/version.js')).command,
};

function topLevelHelp(): string {
  return [
    'trellis: a service mesh that accepts Istio YAML and speaks xDS v3.',
    '',
    'Usage: trellis COMMAND [flags]      (trellis COMMAND --help for details)',
    '',
    'Commands:',
    ...Object.keys(COMMANDS)
      .sort()
      .map((name) => `  ${name}`),
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(topLevelHelp());
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
