import { createRequire } from 'node:module';
import type { Command } from '../command.js';

const require = createRequire(import.meta.url);

export const command: Command = {
  name: 'version',
  summary: 'Print the Trellis version.',
  usage: 'Usage: trellis version',
  async run(_argv, io) {
    const pkg = require('../../../package.json') as { version: string };
    io.stdout(`trellis ${pkg.version}\n`);
    return 0;
  },
};
