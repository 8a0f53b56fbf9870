import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { parseAndValidate } from '../parse.js';
import { validateResource } from '../validate.js';

function errorsOf(spec: unknown): string[] {
  return validateResource({
    apiVersion: 'trellis.io/v1alpha1',
    kind: 'Mesh',
    metadata: { name: 'm', namespace: 'default' },
    spec,
  })
    .filter((p) => p.severity === 'error')
    .map(formatProblem);
}

const workload = (extra: object = {}) => ({
  name: 'reviews-v1',
  service: 'reviews',
  labels: { app: 'reviews', version: 'v1' },
  ports: [{ port: 9080, protocol: 'http' }],
  command: ['node', 'reviews.js'],
  ...extra,
});

test('the documented example parses from YAML without problems', () => {
  const docs = parseAndValidate(
    `apiVersion: trellis.io/v1alpha1
kind: Mesh
metadata: { name: bookinfo }
spec:
  config: config
  gateway: { name: bookinfo-gateway, port: 8080, hosts: ["*"], labels: { istio: ingressgateway } }
  workloads:
  - name: reviews-v2
    service: reviews
    namespace: default
    labels: { app: reviews, version: v2 }
    ports: [{ port: 9080, protocol: http }]
    command: [node, --import, tsx, services/reviews.ts]
    workingDir: .
    env: { STAR_COLOR: black }
`,
    'mesh.yaml',
  );
  assert.equal(docs.length, 1);
  assert.deepEqual(docs[0]?.problems.map(formatProblem), []);
  assert.equal(docs[0]?.resource?.kind, 'Mesh');
});

test('two instances of one service with the same ports are valid', () => {
  assert.deepEqual(errorsOf({ workloads: [workload(), workload({ name: 'reviews-v2' })] }), []);
});

const INVALID: [string, unknown, string][] = [
  ['no workloads', {}, 'spec.workloads: required; must not be empty'],
  [
    'missing command',
    { workloads: [workload({ command: undefined })] },
    'spec.workloads[0].command: required; must not be empty',
  ],
  [
    'bad protocol',
    { workloads: [workload({ ports: [{ port: 9080, protocol: 'udp' }] })] },
    'spec.workloads[0].ports[0].protocol: "udp" is not valid; expected one of http, http2, grpc, tcp',
  ],
  [
    'port out of range',
    { workloads: [workload({ ports: [{ port: 70000, protocol: 'http' }] })] },
    'spec.workloads[0].ports[0].port: 70000 is out of range; expected 1..65535',
  ],
  [
    'duplicate workload names',
    { workloads: [workload(), workload()] },
    'spec.workloads[1].name: duplicate workload name "reviews-v1"',
  ],
  [
    'instances of a service disagree on ports',
    { workloads: [workload(), workload({ name: 'reviews-v2', ports: [{ port: 9081, protocol: 'http' }] })] },
    'spec.workloads[1].ports: service reviews has other ports in spec.workloads[0] (http:9080/http); every instance of a service must declare the same ports',
  ],
  [
    'reserved env',
    { workloads: [workload({ env: { PORT: '1' } })] },
    'spec.workloads[0].env.PORT: PORT is set by trellis up (the app port and its sidecar)',
  ],
  [
    'unknown field',
    { workloads: [workload({ replicas: 2 })] },
    'spec.workloads[0].replicas: unknown field; allowed: name, service, namespace, serviceAccount, labels, ports, command, workingDir, env',
  ],
  ['gateway without name', { gateway: {}, workloads: [workload()] }, 'spec.gateway.name: required'],
];

for (const [name, spec, expected] of INVALID) {
  test(`invalid: ${name}`, () => {
    assert.ok(
      errorsOf(spec).includes(expected),
      `expected ${expected}, got ${JSON.stringify(errorsOf(spec))}`,
    );
  });
}
