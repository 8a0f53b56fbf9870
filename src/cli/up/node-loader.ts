/**
 * `command: [node, --import, tsx, app.ts]` in a workload directory that has no tsx of its own
 * (a copy of examples/bookinfo made outside the repository, a new project): Node would look for
 * tsx from that directory and fail at once. The workload then gets the loader Trellis itself
 * runs on, by its absolute location; a directory with its own tsx keeps it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Loaders `up` can lend: the TypeScript loader it depends on itself. */
const LENDABLE = /^tsx(\/.*)?$/;
const REQUIRE_FLAGS = new Set(['--require', '-r']);
const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', ...REQUIRE_FLAGS]);

export interface LoaderResolution {
  /** Whether `specifier` resolves from `dir` (its own node_modules, or a parent's). */
  resolvesFrom(specifier: string, dir: string): boolean;
  /** The file `specifier` names as Trellis resolves it, or undefined. */
  trellisFile(specifier: string): string | undefined;
}

/** The command with lendable loaders that `workingDir` cannot resolve replaced by Trellis's. */
export function withTrellisLoaders(
  command: readonly string[],
  workingDir: string,
  resolution: LoaderResolution = nodeResolution,
): string[] {
  const [program, ...args] = command;
  if (program === undefined || !/^node(\.exe)?$/.test(path.basename(program))) return [...command];
  // --import and --loader take URLs; --require takes a path.
  const lend = (flag: string, spec: string): string => {
    if (!LENDABLE.test(spec) || resolution.resolvesFrom(spec, workingDir)) return spec;
    const file = resolution.trellisFile(spec);
    if (file === undefined) return spec;
    return REQUIRE_FLAGS.has(flag) ? file : pathToFileURL(file).href;
  };
  const out = [program];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    // Node's own options end at the script name; what follows belongs to the app.
    if (!arg.startsWith('-')) {
      out.push(...args.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    if (!LOADER_FLAGS.has(flag)) {
      out.push(arg);
      continue;
    }
    if (eq >= 0) {
      out.push(`${flag}=${lend(flag, arg.slice(eq + 1))}`);
    } else if (i + 1 < args.length) {
      out.push(arg, lend(flag, args[i + 1] as string));
      i++;
    } else out.push(arg);
  }
  return out;
}

const trellisRequire = createRequire(import.meta.url);

export const nodeResolution: LoaderResolution = {
  resolvesFrom(specifier, dir) {
    try {
      createRequire(path.join(dir, 'noop.js')).resolve(specifier);
      return true;
    } catch {
      return false;
    }
  },
  trellisFile(specifier) {
    try {
      return trellisRequire.resolve(specifier);
    } catch {
      return undefined;
    }
  },
};
