import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** This CLI's version, from package.json. */
export function trellisVersion(): string {
  return (require('../../package.json') as { version: string }).version;
}
