/**
 * Whether a workload's program exists before `up` starts it, so a typo in mesh.yaml is said
 * once ("command not found: nodex") instead of being restarted for ever. The lookup is the
 * shell's: a name with a slash is a path (relative to the working directory), any other name
 * is searched in PATH.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export type Lookup = { found: true; file: string } | { found: false; reason: string };

function executable(file: string): 'ok' | 'missing' | 'not executable' {
  try {
    if (!statSync(file).isFile()) return 'not executable';
  } catch {
    return 'missing';
  }
  try {
    accessSync(file, constants.X_OK);
    return 'ok';
  } catch {
    return 'not executable';
  }
}

export function findProgram(program: string, cwd: string, pathVar: string | undefined): Lookup {
  if (program === '') return { found: false, reason: 'command not found: (empty command)' };
  if (program.includes('/')) {
    const file = path.resolve(cwd, program);
    const state = executable(file);
    if (state === 'ok') return { found: true, file };
    return {
      found: false,
      reason:
        state === 'missing'
          ? `command not found: ${program} (no such file: ${file})`
          : `command not executable: ${program} (${file}; chmod +x it or run it with its interpreter)`,
    };
  }
  const dirs = (pathVar ?? '').split(path.delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    const file = path.resolve(cwd, dir, program);
    if (executable(file) === 'ok') return { found: true, file };
  }
  return {
    found: false,
    reason: `command not found: ${program} (not in PATH${dirs.length ? ` ${dirs.join(path.delimiter)}` : ', which is empty'})`,
  };
}
