import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '../../../api/resource.js';
import type { AuthorizationPolicySpec } from '../../../api/security/types.js';
import { res } from '../testkit.js';
import {
  GATEWAY_NAME_LABEL,
  SecurityPolicyIndex,
  selectAuthorizationPolicies,
  selectRequestAuthentications,
  workloadTarget,
  type WorkloadTarget,
} from './policy-select.js';

const ap = (ns: string, name: string, spec: AuthorizationPolicySpec = {}) =>
  res<AuthorizationPolicySpec>('AuthorizationPolicy', ns, name, spec);

const sidecar = (
  namespace: string,
  labels: Record<string, string>,
  services: string[] = [],
): WorkloadTarget => ({
  kind: 'sidecar',
  namespace,
  labels,
  services,
  serviceSources: [],
});
const gateway = (namespace: string, labels: Record<string, string>): WorkloadTarget => ({
  kind: 'router',
  namespace,
  labels,
  services: [],
  serviceSources: [],
});

function names(policies: Resource[], target: WorkloadTarget): string[] {
  const index = new SecurityPolicyIndex(policies, [], undefined);
  return selectAuthorizationPolicies(index, target, 'istio-system', 'cluster.local').policies.map(
    (p) => `${p.metadata.namespace}/${p.metadata.name}`,
  );
}

const POLICIES = [
  ap('istio-system', 'mesh-wide'),
  ap('istio-system', 'mesh-app-a', { selector: { matchLabels: { app: 'a' } } }),
  ap('default', 'ns-wide'),
  ap('default', 'app-a', { selector: { matchLabels: { app: 'a' } } }),
  ap('default', 'app-a-v2', { selector: { matchLabels: { app: 'a', version: 'v2' } } }),
  ap('other', 'other-ns'),
  ap('default', 'svc-a', { targetRefs: [{ kind: 'Service', group: '', name: 'a' }] }),
  ap('default', 'gw', {
    targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'ingress' },
  }),
  ap('default', 'gw-class', {
    targetRef: { kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'x' },
  }),
];

const SELECTION: [string, WorkloadTarget, string[]][] = [
  [
    'a sidecar gets mesh-wide, namespace-wide and label-selected policies, root namespace first',
    sidecar('default', { app: 'a', version: 'v1' }),
    ['istio-system/mesh-wide', 'istio-system/mesh-app-a', 'default/ns-wide', 'default/app-a'],
  ],
  [
    'all labels of a selector must match',
    sidecar('default', { app: 'a', version: 'v2' }),
    [
      'istio-system/mesh-wide',
      'istio-system/mesh-app-a',
      'default/ns-wide',
      'default/app-a',
      'default/app-a-v2',
    ],
  ],
  [
    'a root namespace policy with a selector reaches other namespaces; namespace policies do not',
    sidecar('other', { app: 'a' }),
    ['istio-system/mesh-wide', 'istio-system/mesh-app-a', 'other/other-ns'],
  ],
  [
    'another app gets only the unselective ones',
    sidecar('default', { app: 'b' }),
    ['istio-system/mesh-wide', 'default/ns-wide'],
  ],
  [
    "a Service targetRef applies at the sidecars of that service's workloads",
    sidecar('default', { app: 'z' }, ['a.default.svc.cluster.local']),
    ['istio-system/mesh-wide', 'default/ns-wide', 'default/svc-a'],
  ],
  [
    'a Service targetRef does not apply to a same-named service of another namespace',
    sidecar('default', { app: 'z' }, ['a.other.svc.cluster.local']),
    ['istio-system/mesh-wide', 'default/ns-wide'],
  ],
  [
    'a Gateway targetRef applies to the gateway of that name in the namespace',
    gateway('default', { [GATEWAY_NAME_LABEL]: 'ingress' }),
    ['istio-system/mesh-wide', 'default/ns-wide', 'default/gw'],
  ],
  [
    '...not to another gateway',
    gateway('default', { [GATEWAY_NAME_LABEL]: 'egress' }),
    ['istio-system/mesh-wide', 'default/ns-wide'],
  ],
  [
    '...nor to a gateway of that name in another namespace',
    gateway('other', { [GATEWAY_NAME_LABEL]: 'ingress' }),
    ['istio-system/mesh-wide', 'other/other-ns'],
  ],
  [
    'a sidecar labelled like a gateway still takes no Gateway targetRef',
    sidecar('default', { [GATEWAY_NAME_LABEL]: 'ingress' }),
    ['istio-system/mesh-wide', 'default/ns-wide'],
  ],
  [
    'a workload in the root namespace',
    sidecar('istio-system', { app: 'a' }),
    ['istio-system/mesh-wide', 'istio-system/mesh-app-a'],
  ],
];

for (const [name, target, want] of SELECTION) {
  test(`selection: ${name}`, () => {
    assert.deepEqual(names(POLICIES, target), want);
  });
}

test('selection: oldest first within a namespace, whatever the order in the store', () => {
  const older = ap('default', 'z-older', {});
  const newer = ap('default', 'a-newer', {});
  assert.deepEqual(names([newer, older], sidecar('default', {})), ['default/z-older', 'default/a-newer']);
});

test('selection: a cross-namespace targetRef never matches', () => {
  const p = ap('default', 'x', { targetRef: { kind: 'Service', name: 'a', namespace: 'other' } });
  assert.deepEqual(
    names([p], sidecar('default', {}, ['a.default.svc.cluster.local', 'a.other.svc.cluster.local'])),
    [],
  );
});

test('selection: a ServiceEntry targetRef applies at the sidecars of its workloads', () => {
  const p = ap('default', 'se', {
    targetRef: { kind: 'ServiceEntry', group: 'networking.istio.io', name: 'db' },
  });
  const index = new SecurityPolicyIndex([p], [], undefined);
  const t = { ...sidecar('default', {}), serviceSources: ['ServiceEntry/default/db'] };
  assert.equal(selectAuthorizationPolicies(index, t, 'istio-system', 'cluster.local').policies.length, 1);
  const other = { ...sidecar('default', {}), serviceSources: ['ServiceEntry/other/db'] };
  assert.equal(selectAuthorizationPolicies(index, other, 'istio-system', 'cluster.local').policies.length, 0);
});

test('selection keys name the selected policies and change when one of them changes', () => {
  const a = ap('default', 'a');
  const b = ap('default', 'b', { selector: { matchLabels: { app: 'x' } } });
  const key = (ps: Resource[], t: WorkloadTarget) =>
    selectAuthorizationPolicies(
      new SecurityPolicyIndex(ps, [], undefined),
      t,
      'istio-system',
      'cluster.local',
    ).key;
  const y = sidecar('default', { app: 'y' });
  const x = sidecar('default', { app: 'x' });
  const b2 = { ...b, spec: { ...b.spec, action: 'DENY' as const } };
  assert.equal(key([a, b], y), key([a, b2], y), 'a change to a policy selecting others leaves the key');
  assert.notEqual(key([a, b], x), key([a, b2], x), 'a change to a selected policy moves the key');
  assert.equal(key([], y), '');
});

test('RequestAuthentications are selected by the same rules', () => {
  const ra = res('RequestAuthentication', 'default', 'jwt', {
    selector: { matchLabels: { app: 'a' } },
    jwtRules: [],
  });
  const index = new SecurityPolicyIndex([], [ra], undefined);
  const sel = (t: WorkloadTarget) =>
    selectRequestAuthentications(index, t, 'istio-system', 'cluster.local').policies.length;
  assert.equal(sel(sidecar('default', { app: 'a' })), 1);
  assert.equal(sel(sidecar('default', { app: 'b' })), 0);
  assert.equal(sel(sidecar('other', { app: 'a' })), 0);
});

test('an unchanged list of policies reuses the previous index', () => {
  const list = [ap('default', 'a')];
  const first = new SecurityPolicyIndex(list, [], undefined);
  const second = new SecurityPolicyIndex(list, [], first);
  assert.equal(second.authorization, first.authorization);
});

test("workloadTarget reads a sidecar's services only when some policy targets a service", () => {
  const p = {
    id: 'x',
    type: 'sidecar' as const,
    namespace: 'default',
    labels: {},
    workloadName: 'w',
    ipAddresses: [],
    locality: '',
    cluster: '',
    metadata: {},
  };
  let calls = 0;
  const instances = () => {
    calls++;
    return [{ hostname: 'a.default.svc.cluster.local', source: 'test' }];
  };
  workloadTarget(new SecurityPolicyIndex([ap('default', 'x')], [], undefined), p, instances);
  assert.equal(calls, 0);
  const t = workloadTarget(new SecurityPolicyIndex([POLICIES[6] as Resource], [], undefined), p, instances);
  assert.equal(calls, 1);
  assert.deepEqual(t?.services, ['a.default.svc.cluster.local']);
  // A proxyless gRPC server is a workload too: its policies ride its server listeners.
  assert.equal(
    workloadTarget(new SecurityPolicyIndex([], [], undefined), { ...p, type: 'grpc' }, instances)?.kind,
    'sidecar',
  );
});
