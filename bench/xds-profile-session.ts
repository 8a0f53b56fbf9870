/**
 * An in-process CPU profile of one phase of the benchmark (the weight changes), written as a
 * .cpuprofile that bench/xds-profile.ts (or Chrome DevTools) reads. `node --cpu-prof` profiles
 * the whole run, where the initial sync drowns the change pushes.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export interface PhaseProfiler {
  stop(file: string): Promise<void>;
}

export async function startProfiler(): Promise<PhaseProfiler> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}
