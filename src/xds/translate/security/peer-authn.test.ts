import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MutualTLSMode, PeerAuthenticationSpec } from '../../../api/security/types.js';
import { res } from '../testkit.js';
import { modeForPort, PeerAuthenticationIndex, type PeerAuthenticationResource } from './peer-authn.js';

const ROOT = 'istio-system';
const MESH = { rootNamespace: ROOT, defaultMode: 'PERMISSIVE' } as const;
const APP = { app: 'reviews', version: 'v1' };

let minute = 0;
/** A policy; each call is one minute younger than the previous unless `at` says otherwise. */
function pa(
  namespace: string,
  name: string,
  mode: MutualTLSMode | undefined,
  extra: {
    selector?: Record<string, string>;
    ports?: Record<string, MutualTLSMode | undefined>;
    at?: string;
  } = {},
): PeerAuthenticationResource {
  minute++;
  const spec: PeerAuthenticationSpec = {};
  if (mode !== undefined) spec.mtls = { mode };
  if (extra.selector !== undefined) spec.selector = { matchLabels: extra.selector };
  if (extra.ports !== undefined) {
    spec.portLevelMtls = Object.fromEntries(
      Object.entries(extra.ports).map(([p, m]) => [p, m === undefined ? {} : { mode: m }]),
    );
  }
  return res('PeerAuthentication', namespace, name, spec, {
    creationTimestamp: extra.at ?? new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
  });
}

interface Case {
  name: string;
  policies: PeerAuthenticationResource[];
  /** Workload namespace (default `default`) and labels (default APP). */
  namespace?: string;
  labels?: Record<string, string>;
  mode: string;
  ports?: Record<number, string>;
  applied?: string;
}

const cases: Case[] = [
  { name: 'nothing configured: PERMISSIVE', policies: [], mode: 'PERMISSIVE', applied: '-|-|-' },
  {
    name: 'mesh STRICT applies everywhere',
    policies: [pa(ROOT, 'default', 'STRICT')],
    mode: 'STRICT',
    applied: 'istio-system/default|-|-',
  },
  {
    name: 'namespace beats mesh',
    policies: [pa(ROOT, 'default', 'STRICT'), pa('default', 'ns', 'PERMISSIVE')],
    mode: 'PERMISSIVE',
  },
  {
    name: 'workload beats namespace and mesh',
    policies: [
      pa(ROOT, 'default', 'PERMISSIVE'),
      pa('default', 'ns', 'PERMISSIVE'),
      pa('default', 'wl', 'STRICT', { selector: { app: 'reviews' } }),
    ],
    mode: 'STRICT',
    applied: 'istio-system/default|default/ns|default/wl',
  },
  {
    name: 'workload DISABLE beats mesh STRICT',
    policies: [
      pa(ROOT, 'default', 'STRICT'),
      pa('default', 'wl', 'DISABLE', { selector: { app: 'reviews' } }),
    ],
    mode: 'DISABLE',
  },
  {
    name: 'namespace UNSET inherits mesh',
    policies: [pa(ROOT, 'default', 'STRICT'), pa('default', 'ns', 'UNSET')],
    mode: 'STRICT',
  },
  {
    name: 'namespace policy without mtls inherits mesh',
    policies: [pa(ROOT, 'default', 'DISABLE'), pa('default', 'ns', undefined)],
    mode: 'DISABLE',
  },
  {
    name: 'workload UNSET inherits namespace (over mesh)',
    policies: [
      pa(ROOT, 'default', 'STRICT'),
      pa('default', 'ns', 'DISABLE'),
      pa('default', 'wl', 'UNSET', { selector: { app: 'reviews' } }),
    ],
    mode: 'DISABLE',
  },
  {
    name: 'mesh UNSET means PERMISSIVE',
    policies: [pa(ROOT, 'default', 'UNSET')],
    mode: 'PERMISSIVE',
  },
  {
    name: 'oldest namespace policy wins',
    policies: [pa('default', 'old', 'STRICT'), pa('default', 'young', 'DISABLE')],
    mode: 'STRICT',
    applied: '-|default/old|-',
  },
  {
    name: 'oldest wins whatever the list order',
    policies: [
      pa('default', 'young', 'DISABLE', { at: '2026-03-01T00:00:00Z' }),
      pa('default', 'old', 'STRICT', { at: '2026-02-01T00:00:00Z' }),
    ],
    mode: 'STRICT',
  },
  {
    name: 'same creation time: first by name',
    policies: [
      pa('default', 'b', 'DISABLE', { at: '2026-02-01T00:00:00Z' }),
      pa('default', 'a', 'STRICT', { at: '2026-02-01T00:00:00Z' }),
    ],
    mode: 'STRICT',
    applied: '-|default/a|-',
  },
  {
    name: 'oldest workload policy wins, even when a younger one is more specific',
    policies: [
      pa('default', 'broad', 'PERMISSIVE', { selector: { app: 'reviews' } }),
      pa('default', 'narrow', 'STRICT', { selector: { app: 'reviews', version: 'v1' } }),
    ],
    mode: 'PERMISSIVE',
  },
  {
    name: 'oldest mesh policy wins',
    policies: [pa(ROOT, 'first', 'STRICT'), pa(ROOT, 'second', 'DISABLE')],
    mode: 'STRICT',
  },
  {
    name: 'a selector that does not match is ignored',
    policies: [pa('default', 'wl', 'STRICT', { selector: { app: 'ratings' } })],
    mode: 'PERMISSIVE',
  },
  {
    name: 'a selector needing more labels than the workload has is ignored',
    policies: [pa('default', 'wl', 'STRICT', { selector: { app: 'reviews', version: 'v2' } })],
    mode: 'PERMISSIVE',
  },
  {
    name: "another namespace's policies do not apply",
    policies: [pa('other', 'ns', 'STRICT'), pa('other', 'wl', 'STRICT', { selector: { app: 'reviews' } })],
    mode: 'PERMISSIVE',
  },
  {
    name: 'a selector policy in the root namespace applies to nobody (Istio)',
    policies: [pa(ROOT, 'wl', 'STRICT', { selector: { app: 'reviews' } })],
    mode: 'PERMISSIVE',
  },
  {
    name: 'an empty selector is a namespace policy',
    policies: [pa(ROOT, 'default', 'STRICT'), pa('default', 'ns', 'DISABLE', { selector: {} })],
    mode: 'DISABLE',
  },
  {
    name: 'a workload in the root namespace gets the mesh policy only',
    policies: [pa(ROOT, 'default', 'STRICT'), pa(ROOT, 'wl', 'DISABLE', { selector: { app: 'reviews' } })],
    namespace: ROOT,
    mode: 'STRICT',
  },
  {
    name: 'port level overrides the workload mode on that port only',
    policies: [
      pa(ROOT, 'default', 'STRICT'),
      pa('default', 'wl', undefined, { selector: { app: 'reviews' }, ports: { '8080': 'DISABLE' } }),
    ],
    mode: 'STRICT',
    ports: { 8080: 'DISABLE', 9080: 'STRICT' },
  },
  {
    name: 'port level UNSET inherits the workload mode',
    policies: [
      pa('default', 'ns', 'DISABLE'),
      pa('default', 'wl', 'STRICT', {
        selector: { app: 'reviews' },
        ports: { '8080': 'UNSET', '9090': undefined },
      }),
    ],
    mode: 'STRICT',
    ports: { 8080: 'STRICT', 9090: 'STRICT', 7070: 'STRICT' },
  },
  {
    name: 'port level of a losing (younger) workload policy does not apply',
    policies: [
      pa('default', 'old', 'PERMISSIVE', { selector: { app: 'reviews' } }),
      pa('default', 'young', 'PERMISSIVE', { selector: { app: 'reviews' }, ports: { '8080': 'STRICT' } }),
    ],
    mode: 'PERMISSIVE',
    ports: { 8080: 'PERMISSIVE' },
  },
  {
    name: 'port level of a policy selecting someone else does not apply',
    policies: [
      pa('default', 'wl', 'PERMISSIVE', { selector: { app: 'ratings' }, ports: { '8080': 'STRICT' } }),
    ],
    mode: 'PERMISSIVE',
    ports: { 8080: 'PERMISSIVE' },
  },
];

for (const c of cases) {
  test(`PeerAuthentication selection: ${c.name}`, () => {
    const index = new PeerAuthenticationIndex(c.policies);
    const got = index.forWorkload(MESH, c.namespace ?? 'default', c.labels ?? APP);
    assert.equal(got.merged.mode, c.mode);
    for (const [port, mode] of Object.entries(c.ports ?? {})) {
      assert.equal(modeForPort(got.merged, Number(port)), mode, `port ${port}`);
    }
    if (c.applied !== undefined) assert.ok(got.key.startsWith(`${c.applied}|`), got.key);
  });
}

test('the key names the applied policies and changes with the merged modes only', () => {
  const a = new PeerAuthenticationIndex([pa('default', 'ns', 'STRICT')]);
  const b = new PeerAuthenticationIndex([pa('default', 'ns', 'PERMISSIVE')]);
  const other = new PeerAuthenticationIndex([pa('default', 'ns', 'STRICT'), pa('shop', 'ns', 'DISABLE')]);
  const key = (i: PeerAuthenticationIndex) => i.forWorkload(MESH, 'default', APP).key;
  assert.notEqual(key(a), key(b));
  assert.equal(key(a), key(other), 'a policy in another namespace leaves the key alone');
  assert.match(key(a), /default\/ns/);
});

const nsCases: {
  name: string;
  policies: PeerAuthenticationResource[];
  namespace: string;
  mode: string | undefined;
}[] = [
  { name: 'no policy: unknown', policies: [], namespace: 'default', mode: undefined },
  { name: 'mesh only', policies: [pa(ROOT, 'm', 'STRICT')], namespace: 'default', mode: 'STRICT' },
  {
    name: 'mesh UNSET: PERMISSIVE',
    policies: [pa(ROOT, 'm', 'UNSET')],
    namespace: 'default',
    mode: 'PERMISSIVE',
  },
  {
    name: 'namespace over mesh',
    policies: [pa(ROOT, 'm', 'STRICT'), pa('default', 'n', 'DISABLE')],
    namespace: 'default',
    mode: 'DISABLE',
  },
  {
    name: 'namespace UNSET inherits mesh',
    policies: [pa(ROOT, 'm', 'DISABLE'), pa('default', 'n', 'UNSET')],
    namespace: 'default',
    mode: 'DISABLE',
  },
  {
    name: 'namespace UNSET without mesh: PERMISSIVE',
    policies: [pa('default', 'n', 'UNSET')],
    namespace: 'default',
    mode: 'PERMISSIVE',
  },
  {
    name: 'workload policies are not consulted',
    policies: [pa('default', 'w', 'DISABLE', { selector: { app: 'reviews' } })],
    namespace: 'default',
    mode: undefined,
  },
  {
    name: 'oldest namespace policy decides',
    policies: [pa('default', 'a', 'DISABLE'), pa('default', 'b', 'STRICT')],
    namespace: 'default',
    mode: 'DISABLE',
  },
];

for (const c of nsCases) {
  test(`namespace mTLS mode (auto mTLS hint): ${c.name}`, () => {
    assert.equal(new PeerAuthenticationIndex(c.policies).namespaceMode(MESH, c.namespace), c.mode);
  });
}

test('a mesh without certificates defaults to DISABLE; explicit policies still apply', () => {
  const mesh = { rootNamespace: ROOT, defaultMode: 'DISABLE' } as const;
  const mode = (policies: PeerAuthenticationResource[]) =>
    new PeerAuthenticationIndex(policies).forWorkload(mesh, 'default', APP).merged.mode;
  assert.equal(mode([]), 'DISABLE');
  assert.equal(mode([pa(ROOT, 'm', 'UNSET')]), 'DISABLE');
  assert.equal(mode([pa(ROOT, 'm', 'STRICT')]), 'STRICT');
  assert.equal(mode([pa('default', 'n', 'PERMISSIVE')]), 'PERMISSIVE');
  const ns = (policies: PeerAuthenticationResource[]) =>
    new PeerAuthenticationIndex(policies).namespaceMode(mesh, 'default');
  assert.equal(ns([pa('default', 'n', 'UNSET')]), 'DISABLE');
  assert.equal(ns([pa('default', 'n', 'STRICT')]), 'STRICT');
});

test('a mode that escaped validation fails closed (STRICT), never open', () => {
  const bogus = [
    res('PeerAuthentication', 'default', 'bogus', {
      mtls: { mode: 'OFF' },
    } as unknown as PeerAuthenticationSpec),
    res('PeerAuthentication', 'default', 'lower', {
      selector: { matchLabels: { app: 'reviews' } },
      mtls: { mode: 'disable' },
    } as unknown as PeerAuthenticationSpec),
  ] as PeerAuthenticationResource[];
  const got = new PeerAuthenticationIndex(bogus).forWorkload(MESH, 'default', APP);
  assert.equal(got.merged.mode, 'STRICT');
  assert.equal(new PeerAuthenticationIndex(bogus).namespaceMode(MESH, 'default'), 'STRICT');
});

test('policies without an mtls field (UNSET by omission) inherit, and never break the composition', () => {
  // `pa(..., undefined)` writes no `mtls` at all, as a policy with only a selector or ports does.
  const meshStrict = pa(ROOT, 'mesh', 'STRICT');
  const nsBare = pa('default', 'ns', undefined);
  const index = new PeerAuthenticationIndex([meshStrict, nsBare]);
  assert.equal(index.namespaceMode(MESH, 'default'), 'STRICT', 'the namespace policy inherits the mesh');
  assert.equal(index.forWorkload(MESH, 'default', APP).merged.mode, 'STRICT');
  const bareMesh = new PeerAuthenticationIndex([pa(ROOT, 'mesh', undefined)]);
  assert.equal(bareMesh.namespaceMode(MESH, 'default'), 'PERMISSIVE', 'a bare mesh policy means the default');
  assert.equal(
    bareMesh.namespaceMode({ ...MESH, defaultMode: 'DISABLE' }, 'default'),
    'DISABLE',
    'the default follows the mesh defaults',
  );
  const portsOnly = pa('default', 'ports', undefined, { selector: APP, ports: { '9080': 'DISABLE' } });
  const merged = new PeerAuthenticationIndex([meshStrict, portsOnly]).forWorkload(
    MESH,
    'default',
    APP,
  ).merged;
  assert.equal(modeForPort(merged, 9080), 'DISABLE');
  assert.equal(modeForPort(merged, 9081), 'STRICT');
});
