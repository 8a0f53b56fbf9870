import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClientTLSSettings } from '../../../api/networking/types.js';
import { upstreamTlsDecision, type UpstreamMtlsFacts } from './mtls-auto.js';

const IDS = ['spiffe://cluster.local/ns/default/sa/reviews'];
const FACTS: UpstreamMtlsFacts = {
  autoMtls: true,
  meshExternal: false,
  serviceMode: undefined,
  identities: IDS,
  allEndpointsMeshed: false,
};

const cases: {
  name: string;
  passthrough?: boolean;
  tls?: ClientTLSSettings;
  facts?: Partial<UpstreamMtlsFacts>;
  want: string;
}[] = [
  { name: 'no rule, no policy: auto ISTIO_MUTUAL', want: 'auto ISTIO_MUTUAL san=reviews' },
  {
    name: 'namespace PERMISSIVE: auto',
    facts: { serviceMode: 'PERMISSIVE' },
    want: 'auto ISTIO_MUTUAL san=reviews',
  },
  { name: 'namespace STRICT: auto', facts: { serviceMode: 'STRICT' }, want: 'auto ISTIO_MUTUAL san=reviews' },
  { name: 'namespace DISABLE: plaintext', facts: { serviceMode: 'DISABLE' }, want: 'plaintext' },
  { name: 'auto mTLS off: plaintext', facts: { autoMtls: false }, want: 'plaintext' },
  {
    name: 'auto mTLS off, even to a STRICT namespace',
    facts: { autoMtls: false, serviceMode: 'STRICT' },
    want: 'plaintext',
  },
  { name: 'mesh-external service: plaintext', facts: { meshExternal: true }, want: 'plaintext' },
  { name: 'no identities: no SAN check', facts: { identities: [] }, want: 'auto ISTIO_MUTUAL san=' },
  { name: 'rule DISABLE beats auto', tls: { mode: 'DISABLE' }, want: 'user DISABLE' },
  { name: 'rule tls without mode is DISABLE (the enum zero)', tls: { sni: 'x' }, want: 'user - sni=x' },
  {
    name: 'rule DISABLE beats a STRICT namespace',
    tls: { mode: 'DISABLE' },
    facts: { serviceMode: 'STRICT' },
    want: 'user DISABLE',
  },
  {
    name: 'rule SIMPLE is used as written',
    tls: { mode: 'SIMPLE', sni: 'api' },
    want: 'user SIMPLE sni=api',
  },
  {
    name: 'rule MUTUAL is used as written',
    tls: { mode: 'MUTUAL', credentialName: 'c' },
    want: 'user MUTUAL',
  },
  {
    name: 'rule ISTIO_MUTUAL to every endpoint, with the destination identities',
    tls: { mode: 'ISTIO_MUTUAL' },
    want: 'user ISTIO_MUTUAL san=reviews',
  },
  {
    name: 'rule ISTIO_MUTUAL keeps its own SANs and SNI',
    tls: { mode: 'ISTIO_MUTUAL', subjectAltNames: ['spiffe://x/ns/a/sa/b'], sni: 's' },
    want: 'user ISTIO_MUTUAL san=spiffe://x/ns/a/sa/b sni=s',
  },
  {
    name: 'rule ISTIO_MUTUAL even when auto mTLS is off or the namespace DISABLE',
    tls: { mode: 'ISTIO_MUTUAL' },
    facts: { autoMtls: false, serviceMode: 'DISABLE' },
    want: 'user ISTIO_MUTUAL san=reviews',
  },
  {
    name: 'rule ISTIO_MUTUAL to a mesh-external service is honoured',
    tls: { mode: 'ISTIO_MUTUAL' },
    facts: { meshExternal: true },
    want: 'user ISTIO_MUTUAL san=reviews',
  },
  {
    name: 'passthrough, every endpoint has a sidecar: mTLS to all',
    passthrough: true,
    facts: { allEndpointsMeshed: true },
    want: 'auto ISTIO_MUTUAL san=reviews',
  },
  { name: 'passthrough, some endpoint without a sidecar: plaintext', passthrough: true, want: 'plaintext' },
  {
    name: 'passthrough to a DISABLE namespace: plaintext',
    passthrough: true,
    facts: { allEndpointsMeshed: true, serviceMode: 'DISABLE' },
    want: 'plaintext',
  },
  {
    name: 'passthrough with a rule: the rule decides',
    passthrough: true,
    tls: { mode: 'ISTIO_MUTUAL' },
    want: 'user ISTIO_MUTUAL san=reviews',
  },
];

function describe(d: ReturnType<typeof upstreamTlsDecision>): string {
  if (d.tls === undefined) return 'plaintext';
  const parts = [d.auto ? 'auto' : 'user', d.tls.mode ?? '-'];
  if (d.tls.subjectAltNames !== undefined)
    parts.push(
      `san=${d.tls.subjectAltNames.map((s) => s.replace(/^spiffe:\/\/cluster.local\/ns\/default\/sa\//, '')).join(',')}`,
    );
  if (d.tls.sni !== undefined) parts.push(`sni=${d.tls.sni}`);
  return parts.join(' ');
}

for (const c of cases) {
  test(`auto mTLS decision: ${c.name}`, () => {
    assert.equal(describe(upstreamTlsDecision(c.tls, { ...FACTS, ...c.facts }, c.passthrough)), c.want);
  });
}
