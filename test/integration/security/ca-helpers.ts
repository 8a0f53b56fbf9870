/**
 * A control plane with its CA on 127.0.0.1 for the ca-*.test.ts files: a memory config store,
 * the CA loaded or made in a temporary state directory (as `trellis control-plane` does).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { validateResource } from '../../../src/api/validate.js';
import { MemoryConfigStore } from '../../../src/config/memory-store.js';
import { ControlPlane } from '../../../src/controlplane/control-plane.js';
import {
  loadCaState,
  type CaState,
  type CaStateOptions,
} from '../../../src/controlplane/ca-service-state.js';

export interface CaMesh {
  cp: ControlPlane;
  ca: CaState;
  address: string;
  stateDir: string;
  stop(): Promise<void>;
}

export async function tempDir(prefix = 'trellis-ca-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function startCaMesh(
  options: Partial<CaStateOptions> & { port?: number; maxTtlSeconds?: number } = {},
): Promise<CaMesh> {
  const stateDir = options.stateDir ?? (await tempDir());
  const ca = await loadCaState({ ...options, stateDir });
  const cp = new ControlPlane({
    config: new MemoryConfigStore((r) => validateResource(r)),
    debounce: { quietMs: 10, maxMs: 1000 },
    // The clock dates certificates and credentials; the control plane's own debounce runs on real time.
    ca: {
      authority: ca.authority,
      credentials: ca.credentials,
      ...(options.maxTtlSeconds !== undefined ? { maxTtlSeconds: options.maxTtlSeconds } : {}),
    },
  });
  const bound = await cp.start(
    { host: '127.0.0.1', port: options.port ?? 0 },
    { host: '127.0.0.1', port: 0 },
  );
  return {
    cp,
    ca,
    address: `127.0.0.1:${bound.xds.port}`,
    stateDir,
    stop: () => cp.stop(),
  };
}
