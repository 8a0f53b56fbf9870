/** This build's version (package.json), as the control plane reports it on GET /version. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function trellisVersion(): string {
  // build/ mirrors src/ one level below the repository root, so this path holds in both.
  return (require('../../package.json') as { version: string }).version;
}
