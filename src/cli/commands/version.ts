import type { Command } from '../command.js';
import { parseFlags } from '../args.js';
import { trellisVersion } from '../version-info.js';

export const command: Command = {
  name: 'version',
  summary: 'Print the Trellis version (also trellis --version, -v).',
  usage: 'Usage: trellis version',
  async run(argv, io) {
    parseFlags('version', argv, {});
    io.stdout(`trellis ${trellisVersion()}\n`);
    return 0;
  },
};
