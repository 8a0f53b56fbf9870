/**
 * `trellis analyze` as a user of `trellis up` runs it: on a mesh.yaml (its config directory,
 * with its workloads as the registry), on a directory of alternatives (bookinfo's scenarios/),
 * one file at a time (--each), and on a directory with nothing to analyze.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandIo } from '../command.js';
import { main } from '../main.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

function capture(cwd: string): { io: CommandIo; out: () => string[]; err: () => string } {
  let out = '';
  let err = '';
  const io: CommandIo = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    env: {},
    cwd,
  };
  return { io, out: () => out.split('\n').filter((l) => l !== ''), err: () => err };
}

async function run(argv: string[], cwd = EXAMPLES) {
  const c = capture(cwd);
  const code = await main(['analyze', ...argv], c.io);
  return { code, out: c.out(), err: c.err() };
}

/** `CODE file:doc path` of each coded finding. */
function codes(lines: string[]): string[] {
  return lines.flatMap((l) => {
    const m = /^(\S+): (?:warning: |info: )?(\S+): \[([A-Z]+\d+)\]/.exec(l);
    return m ? [`${m[3]} ${m[1]} ${m[2]}`] : [];
  });
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'trellis-analyze-mesh-'));
}

test('analyze mesh.yaml (or its directory): the config directory, with the gateway and workloads the manifest makes', async () => {
  for (const target of ['bookinfo', 'bookinfo/mesh.yaml']) {
    const r = await run([target]);
    assert.equal(r.code, 0, r.out.join('\n'));
    assert.deepEqual(r.out, [
      'Analyzing mesh bookinfo: config bookinfo/config, with its 6 workloads as the service registry',
      '✔ No validation issues found when analyzing 4 files',
    ]);
  }
  // Naming the config directory as well analyzes each file once.
  const twice = await run(['bookinfo', 'bookinfo/config/']);
  assert.equal(twice.code, 0, twice.out.join('\n'));
  assert.equal(twice.out.at(-1), '✔ No validation issues found when analyzing 4 files');
  // The config directory alone lacks the manifest's Gateway, and says where to look.
  const alone = await run(['bookinfo/config']);
  assert.equal(alone.code, 1);
  assert.equal(
    alone.out[0],
    'note: bookinfo/mesh.yaml runs this directory; analyze it instead (trellis analyze bookinfo/mesh.yaml) to check references against its gateway and workloads',
  );
  assert.deepEqual(codes(alone.out), ['IST0101 bookinfo/config/gateway.yaml:1 spec.gateways[0]']);
});

test('analyze mesh.yaml: hosts, rule hosts, subsets and Sidecar selectors checked against its workloads', async () => {
  const dir = await tempDir();
  try {
    await cp(path.join(EXAMPLES, 'bookinfo', 'mesh.yaml'), path.join(dir, 'mesh.yaml'));
    await cp(path.join(EXAMPLES, 'bookinfo', 'config'), path.join(dir, 'config'), { recursive: true });
    await writeFile(
      path.join(dir, 'config', 'broken.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: details }
spec:
  hosts: [details]
  http:
    - route:
        - destination: { host: detail }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: detailz }
spec:
  host: detailz
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings-v9 }
spec:
  host: ratings.default.svc.cluster.local
  subsets: [{ name: v9, labels: { version: v9 } }]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ghost }
spec:
  workloadSelector: { labels: { app: ghost } }
  egress: [{ hosts: ['./*'] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-too }
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
    - route:
        - destination: { host: reviews, subset: v1 }
`,
    );
    const r = await run(['mesh.yaml'], dir);
    assert.equal(r.code, 1);
    // In file order; within a document in analyzer order.
    assert.deepEqual(codes(r.out), [
      'IST0101 config/broken.yaml:1 spec.http[0].route[0].destination.host',
      'IST0174 config/broken.yaml:2 spec.host',
      'IST0173 config/broken.yaml:3 spec.subsets[0].labels',
      'TRL0101 config/broken.yaml:3 spec.host',
      'IST0101 config/broken.yaml:4 spec.workloadSelector.labels',
      'IST0109 config/broken.yaml:5 spec.hosts[0]',
      'IST0109 config/reviews.yaml:1 spec.hosts[0]',
    ]);
    assert.ok(
      r.out.includes(
        'config/broken.yaml:1: spec.http[0].route[0].destination.host: [IST0101] Referenced host not found: "detail" (no service detail.default.svc.cluster.local; requests routed to it fail with 503 NC)',
      ),
      r.out.join('\n'),
    );
    assert.match(r.out.at(-1) ?? '', /^Error: 5 errors, 2 warnings$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("analyze DIR of alternatives (bookinfo's scenarios/): files defining the same resource are TRL0102 warnings, not duplicates", async () => {
  const r = await run(['bookinfo/scenarios']);
  const alternatives = codes(r.out).filter((l) => l.startsWith('TRL0102'));
  assert.deepEqual(alternatives, [
    'TRL0102 bookinfo/scenarios/canary-90-10.yaml:1 metadata.name',
    'TRL0102 bookinfo/scenarios/jason-v2.yaml:1 metadata.name',
    'TRL0102 bookinfo/scenarios/ratings-plain.yaml:1 metadata.name',
    'TRL0102 bookinfo/scenarios/ratings-retry.yaml:1 metadata.name',
  ]);
  assert.ok(
    r.out.includes(
      'bookinfo/scenarios/jason-v2.yaml:1: warning: metadata.name: [TRL0102] VirtualService default/reviews is also defined at bookinfo/scenarios/all-v1.yaml:1; these files are alternatives (a control plane loading both rejects the later one): analyze them one at a time with --each',
    ),
    r.out.join('\n'),
  );
  assert.doesNotMatch(r.out.join('\n'), /is already defined at/);
});

test('analyze --each: every scenario in place of the config it replaces, with the mesh', async () => {
  const r = await run(['bookinfo', 'bookinfo/scenarios', '--each']);
  assert.equal(r.code, 0, r.out.join('\n'));
  assert.ok(r.out.includes('--- bookinfo/scenarios/jason-v2.yaml (with 9 other files)'), r.out.join('\n'));
  assert.deepEqual(codes(r.out), [], 'each scenario is valid on top of the mesh config');

  // A broken scenario is reported under its own name only, once.
  const dir = await tempDir();
  try {
    await cp(path.join(EXAMPLES, 'bookinfo', 'mesh.yaml'), path.join(dir, 'mesh.yaml'));
    await cp(path.join(EXAMPLES, 'bookinfo', 'config'), path.join(dir, 'config'), { recursive: true });
    await mkdir(path.join(dir, 'scenarios'));
    await writeFile(
      path.join(dir, 'scenarios', 'v4.yaml'),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews, subset: v4 }
`,
    );
    const broken = await run(['.', 'scenarios', '--each'], dir);
    assert.equal(broken.code, 1);
    assert.deepEqual(codes(broken.out), [
      'IST0101 scenarios/v4.yaml:1 spec.http[0].route[0].destination.subset',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('analyze of a directory with no YAML: a warning and exit 1, unless --allow-empty', async () => {
  const dir = await tempDir();
  try {
    await writeFile(path.join(dir, 'README.md'), '# not config');
    const r = await run(['.'], dir);
    assert.equal(r.code, 1);
    assert.deepEqual(r.out, [
      'warning: no YAML or JSON files in .: nothing was analyzed',
      'Error: nothing to analyze; check the path, or pass --allow-empty if that is expected',
    ]);
    const allowed = await run(['.', '--allow-empty'], dir);
    assert.equal(allowed.code, 0);
    assert.deepEqual(allowed.out, ['warning: no YAML or JSON files in .: nothing was analyzed']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('analyze of an invalid mesh.yaml: its problems with file and field, exit 1', async () => {
  const dir = await tempDir();
  try {
    await writeFile(
      path.join(dir, 'mesh.yaml'),
      `apiVersion: trellis.io/v1alpha1
kind: Mesh
metadata: { name: broken }
spec:
  workloads:
    - name: a
      ports: [{ port: 99999 }]
`,
    );
    const r = await run(['mesh.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.out[0] ?? '', /^invalid mesh manifest:/);
    assert.match(r.out.join('\n'), /mesh\.yaml:1: spec\.workloads\[0\]/);
    assert.equal(r.out.at(-1), 'Error: 1 error, 0 warnings');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('analyze -L lists every code with its level and what to do', async () => {
  const r = await run(['-L']);
  assert.equal(r.code, 0);
  const listed = r.out.filter((l) => /^[A-Z]+\d+ {2}/.test(l)).map((l) => l.split(' ')[0]);
  assert.deepEqual(listed, [
    'IST0101',
    'IST0109',
    'IST0113',
    'IST0127',
    'IST0173',
    'IST0174',
    'TRL0101',
    'TRL0102',
  ]);
  assert.ok(r.out.includes('IST0109  ConflictingMeshGatewayVirtualServiceHosts (Error)'), r.out.join('\n'));
});
