/**
 * Issue #10 finding 7: the control plane warns when a VirtualService routes to a subset no
 * DestinationRule defines (the canary written in the wrong order answers 503 NC until the rule
 * arrives): a log line and an entry at /debug/config_errors, gone once the rule defines it. The
 * config is served all along.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../api/parse.js';
import { DirectoryConfigStore } from '../config/directory-store.js';
import { memoryLogger } from '../core/logger.js';
import { eventually } from '../core/testing/eventually.js';
import { ControlPlane } from './control-plane.js';

const CANARY_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
`;

const rule = (subsets: string[]) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets:
${subsets.map((s) => `  - { name: ${s}, labels: { version: ${s} } }`).join('\n')}
`;

interface Entry {
  source: { kind?: string; namespace?: string; name?: string; file?: string };
  problems: { severity: string; path: string; message: string }[];
}

test('a VirtualService subset no DestinationRule defines is warned about until the rule defines it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-cp-warnings-'));
  const { logger, lines } = memoryLogger('cp');
  await writeFile(path.join(dir, 'reviews-vs.yaml'), CANARY_VS);
  await writeFile(path.join(dir, 'reviews-dr.yaml'), rule(['v1']));
  const store = new DirectoryConfigStore(dir, { parse: parseAndValidate, rescanMs: 0 });
  await store.start();
  const cp = new ControlPlane({ config: store, logger, debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${bound.http.port}`;
  const entries = async () => (await (await fetch(`${url}/debug/config_errors`)).json()) as Entry[];
  try {
    const [warning, ...more] = await entries();
    assert.equal(more.length, 0);
    assert.deepEqual(
      { ...warning?.source, file: path.basename(warning?.source.file ?? '') },
      { kind: 'VirtualService', namespace: 'default', name: 'reviews', file: 'reviews-vs.yaml' },
    );
    assert.equal(warning?.problems[0]?.severity, 'warning');
    assert.equal(warning?.problems[0]?.path, 'spec.http[0].route[1].destination.subset');
    assert.match(
      warning?.problems[0]?.message ?? '',
      /^\[IST0101\] Referenced host\+subset in destinationrule not found: "reviews\+v2"/,
    );
    assert.ok(
      lines.some((l) =>
        l.includes('VirtualService default/reviews: spec.http[0].route[1].destination.subset'),
      ),
      lines.join('\n'),
    );
    // A warning, not a rejection: the VirtualService is served.
    assert.equal((await fetch(`${url}/v1/config/vs/default/reviews`)).status, 200);

    await writeFile(path.join(dir, 'reviews-dr.yaml'), rule(['v1', 'v2']));
    await store.reload();
    await eventually(async () => (await entries()).length === 0, {
      what: 'the warning to clear',
      timeoutMs: 10_000,
    });
    assert.ok(
      lines.some((l) => l.includes('resolved')),
      lines.join('\n'),
    );
  } finally {
    store.close();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
