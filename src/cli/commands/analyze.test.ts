import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from '../command.js';
import { main } from '../main.js';
import { MESSAGES } from '../../xds/analysis/messages.js';
import { command } from './analyze.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/api/', import.meta.url));

function capture(): { io: CommandIo; out: () => string[]; err: () => string } {
  let out = '';
  let err = '';
  const io: CommandIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: {},
    cwd: FIXTURES,
  };
  return { io, out: () => out.split('\n').filter((l) => l !== ''), err: () => err };
}

test('analyze: the valid fixtures pass validation; what they reference across files is reported with codes', async () => {
  const c = capture();
  assert.equal(await command.run(['valid'], c.io), 1);
  const lines = c.out();
  assert.equal(lines.at(-1), 'Error: 12 errors, 4 warnings');
  const codes = lines
    .map((l) => /^(\S+): (?:warning: )?(\S+): \[([A-Z]+\d+)\]/.exec(l)?.slice(1))
    .filter((m) => m !== undefined);
  // Each one real: Istio's analyzer reports these fixtures the same way (TRL0101: Trellis's own).
  assert.deepEqual(codes, [
    ['valid/bookinfo-routing.yaml:1', 'spec.hosts[0]', 'IST0109'],
    ['valid/bookinfo-routing.yaml:2', 'spec.http[0].route[0].destination.subset', 'IST0101'],
    ['valid/bookinfo-routing.yaml:2', 'spec.http[0].route[1].destination.subset', 'IST0101'],
    ['valid/destination-rules.yaml:2', 'spec.host', 'TRL0101'],
    ['valid/destination-rules.yaml:3', 'spec.host', 'TRL0101'],
    ['valid/destination-rules.yaml:5', 'spec.host', 'TRL0101'],
    ['valid/mirror-cors.yaml:1', 'spec.http[0].route[0].destination.subset', 'IST0101'],
    ['valid/mirror-cors.yaml:1', 'spec.http[0].mirror.subset', 'IST0101'],
    ['valid/mirror-cors.yaml:2', 'spec.http[0].route[0].destination.subset', 'IST0101'],
    ['valid/mirror-cors.yaml:2', 'spec.hosts[0]', 'IST0109'],
    ['valid/mirror-cors.yaml:3', 'spec.http[1].route[0].destination.subset', 'IST0101'],
    ['valid/mirror-cors.yaml:3', 'spec.hosts[0]', 'IST0109'],
    ['valid/resilience.yaml:1', 'spec.http[0].route[0].destination.subset', 'IST0101'],
    ['valid/resilience.yaml:1', 'spec.http[1].route[0].destination.subset', 'IST0101'],
    ['valid/resilience.yaml:2', 'spec.hosts[0]', 'IST0109'],
  ]);
  // One documentation line per code found.
  assert.deepEqual(
    lines.filter((l) => l.startsWith('  ')).map((l) => l.split(':')[0]),
    [
      '  IST0101 ReferencedResourceNotFound',
      '  IST0109 ConflictingMeshGatewayVirtualServiceHosts',
      '  TRL0101 ConflictingDestinationRules',
    ],
  );
});

test('analyze: a canary VirtualService naming a subset its DestinationRule lacks is IST0101 with file and path; exit 1', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-analyze-'));
  try {
    const rule = (subsets: string[]) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets:
${subsets.map((s) => `  - { name: ${s}, labels: { version: ${s} } }`).join('\n')}
`;
    await writeFile(
      path.join(dir, 'reviews-vs.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
`,
    );
    await writeFile(path.join(dir, 'reviews-dr.yaml'), rule(['v1']));
    const c = capture();
    c.io.cwd = dir;
    assert.equal(await command.run(['.'], c.io), 1);
    assert.deepEqual(c.out(), [
      'reviews-vs.yaml:1: spec.http[0].route[1].destination.subset: [IST0101] Referenced host+subset in destinationrule not found: "reviews+v2" (no DestinationRule visible in namespace default defines subset "v2" for reviews.default.svc.cluster.local; requests routed to it fail with 503 NC)',
      `  IST0101 ReferencedResourceNotFound: ${MESSAGES.ReferencedResourceNotFound.doc}`,
      'Error: 1 error, 0 warnings',
    ]);

    await writeFile(path.join(dir, 'reviews-dr.yaml'), rule(['v1', 'v2']));
    const fixed = capture();
    fixed.io.cwd = dir;
    assert.equal(await command.run(['.'], fixed.io), 0);
    assert.deepEqual(fixed.out(), ['✔ No validation issues found when analyzing 2 files']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('analyze: one line per problem, FILE:DOC: PATH: MESSAGE, then the summary; exit 1', async () => {
  const c = capture();
  assert.equal(await command.run(['invalid/reviews.yaml', 'warnings'], c.io), 1);
  assert.deepEqual(c.out(), [
    'invalid/reviews.yaml:1: spec.http[0].route: weights sum to 0',
    'invalid/reviews.yaml:1: spec.http[1].retry: unknown field; allowed: name, match, route, redirect, directResponse, delegate, rewrite, timeout, retries, fault, mirror, mirrorPercentage, mirrorPercent, mirrors, corsPolicy, headers',
    'invalid/reviews.yaml:1: spec.http[1].redirect: cannot be combined with route',
    'invalid/reviews.yaml:2: warning: spec.trafficPolicy.outlierDetection.consecutiveErrors: deprecated; use consecutiveGatewayErrors or consecutive5xxErrors instead',
    'invalid/reviews.yaml:2: spec.subsets[1].name: duplicate subset name "v1"',
    'invalid/reviews.yaml:3: metadata.name: VirtualService default/reviews is already defined at invalid/reviews.yaml:1',
    'warnings/split.yaml:1: warning: spec.http[0].route: weights sum to 75, not 100; traffic is split in proportion to the weights (each weight / 75)',
    'warnings/split.yaml:1: spec.http[0].route[0].destination.subset: [IST0101] Referenced host+subset in destinationrule not found: "reviews+v1" (no DestinationRule visible in namespace default defines subset "v1" for reviews.default.svc.cluster.local; requests routed to it fail with 503 NC)',
    'warnings/split.yaml:1: spec.http[0].route[1].destination.subset: [IST0101] Referenced host+subset in destinationrule not found: "reviews+v2" (no DestinationRule visible in namespace default defines subset "v2" for reviews.default.svc.cluster.local; requests routed to it fail with 503 NC)',
    `  IST0101 ReferencedResourceNotFound: ${MESSAGES.ReferencedResourceNotFound.doc}`,
    'Error: 7 errors, 2 warnings',
  ]);
});

test('analyze: YAML syntax errors carry the line; missing files are errors', async () => {
  const c = capture();
  assert.equal(await command.run(['invalid/broken.yaml', 'missing.yaml'], c.io), 1);
  // Findings come in the order of the arguments.
  assert.deepEqual(c.out(), [
    'invalid/broken.yaml:1: line 8, column 5: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
    'missing.yaml: no such file or directory',
    'Error: 2 errors, 0 warnings',
  ]);
});

test('analyze: warnings alone exit 0, unless --failure-threshold Warning', async () => {
  const c = capture();
  assert.equal(await command.run(['valid/destination-rules.yaml'], c.io), 0);
  assert.equal(c.out().at(-1), '✔ No errors found when analyzing 1 file; 3 warnings');
  const strict = capture();
  assert.equal(
    await command.run(['valid/destination-rules.yaml', '--failure-threshold', 'warning'], strict.io),
    1,
  );
  assert.equal(strict.out().at(-1), 'Error: 0 errors, 3 warnings (--failure-threshold Warning)');
  const lax = capture();
  assert.equal(await command.run(['warnings/split.yaml', '--failure-threshold=Error'], lax.io), 1);
});

test('analyze: bad usage exits 2 with the reason', async () => {
  const none = capture();
  assert.equal(await main(['analyze'], none.io), 2);
  assert.match(none.err(), /expected at least one FILE, DIR or mesh\.yaml/);
  const flag = capture();
  assert.equal(await main(['analyze', '--strict', 'valid'], flag.io), 2);
  assert.match(flag.err(), /unknown flag --strict/);
  const level = capture();
  assert.equal(await main(['analyze', '--failure-threshold', 'fatal', 'valid'], level.io), 2);
  assert.match(level.err(), /--failure-threshold fatal: expected one of Info, Warning, Error/);
});

test('analyze is registered in the trellis command table; -f and -A are accepted as istioctl users type them', async () => {
  const c = capture();
  assert.equal(
    await main(['analyze', '-A', '-f', 'warnings/split.yaml', '-f', 'valid/gateways.yaml'], c.io),
    1,
  );
  assert.equal(c.out().at(-1), 'Error: 2 errors, 1 warning');
  assert.ok(c.out()[0]?.startsWith('warnings/split.yaml:1: warning:'), c.out().join('\n'));
});

test('analyze: STRICT mTLS with a DestinationRule that sends plaintext is IST0113; a selector matching nothing is IST0127', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-analyze-'));
  try {
    await writeFile(
      path.join(dir, 'reviews.yaml'),
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  endpoints: [{ address: 10.0.0.1, labels: { app: reviews } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: { tls: { mode: DISABLE } }
`,
    );
    await writeFile(
      path.join(dir, 'security.yaml'),
      `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ratings, namespace: default }
spec: { selector: { matchLabels: { app: ratings } }, mtls: { mode: DISABLE } }
`,
    );
    const c = capture();
    c.io.cwd = dir;
    assert.equal(await command.run(['.'], c.io), 0, 'warnings alone exit 0');
    const lines = c.out();
    assert.ok(
      lines.some((l) => /^reviews\.yaml:2: warning: spec\.trafficPolicy\.tls\.mode: \[IST0113\]/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) =>
        /^security\.yaml:2: warning: spec\.selector\.matchLabels: \[IST0127\] No matching workloads .*app=ratings/.test(
          l,
        ),
      ),
      lines.join('\n'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
