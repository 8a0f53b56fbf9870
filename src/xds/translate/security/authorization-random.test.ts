/**
 * Seeded random AuthorizationPolicies: whatever the validator accepts translates without
 * throwing, for HTTP and TCP chains and every action, into RBAC that holds to Envoy's validate
 * rules; a TCP ALLOW rule is dropped exactly when it uses an HTTP-only field. AUTHZ_SEED and
 * AUTHZ_CASES replay or extend the run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Problems } from '../../../core/errors.js';
import type { AuthorizationRule } from '../../../api/security/types.js';
import { validateAuthorizationPolicy } from '../../../api/security/validate-authorization-policy.js';
import { TYPE } from '../../../protocol/protos.js';
import { validateRules } from '../../../protocol/validate-rules.js';
import { translateRule, type RbacAction } from './authorization-rules.js';

const SEED = Number(process.env.AUTHZ_SEED ?? 7_331);
const CASES = Number(process.env.AUTHZ_CASES ?? 200);

/** mulberry32: small, seeded, good enough to pick from pools. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOLS: Record<string, string[]> = {
  principals: ['*', 'cluster.local/ns/a/sa/b', 'cluster.local/*', '*/sa/b', 'a.b/c'],
  requestPrincipals: ['*', 'iss/sub', 'https://i.example/x/*', '*/sub', 'iss'],
  namespaces: ['*', 'a', 'te*', '*st', 'a.b'],
  serviceAccounts: ['sa', 'ns/sa'],
  trustDomains: ['*', 'td', '*.corp', 'td*'],
  ipBlocks: ['10.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32'],
  remoteIpBlocks: ['1.2.3.4', '0.0.0.0/0'],
  hosts: ['*', 'a.com', '*.a.com', 'a.*', 'A.COM:80'],
  ports: ['0', '80', '65535'],
  methods: ['*', 'GET', 'G*', '*T'],
  paths: ['*', '/', '/a', '/a/*', '*.php', '/{*}', '/a/{**}', '/x/{*}/y/{**}'],
};
const SOURCE_FIELDS = [
  'principals',
  'requestPrincipals',
  'namespaces',
  'serviceAccounts',
  'trustDomains',
  'ipBlocks',
  'remoteIpBlocks',
];
const OPERATION_FIELDS = ['hosts', 'ports', 'methods', 'paths'];
const WHEN: [string, string[]][] = [
  ['request.headers[x-a]', ['*', 'v', 'v*']],
  ['source.ip', ['10.0.0.0/8']],
  ['remote.ip', ['1.1.1.1']],
  ['source.namespace', ['a', 'b*']],
  ['source.principal', ['*', 'td/ns/a/sa/b']],
  ['source.serviceAccount', ['sa', 'n/sa']],
  ['source.trustDomain', ['td', '*']],
  ['request.auth.principal', ['iss/sub', '*']],
  ['request.auth.audiences', ['a', 'b*']],
  ['request.auth.presenter', ['p']],
  ['request.auth.claims[groups]', ['g', '*']],
  ['request.auth.claims[a][b]', ['x']],
  ['destination.ip', ['10.0.0.1']],
  ['destination.port', ['80']],
  ['connection.sni', ['*.a.com', 'x']],
  ['experimental.envoy.filters.network.mysql_proxy[db.table]', ['[t]', 'v']],
];
const HTTP_ONLY = new Set(['requestPrincipals', 'hosts', 'methods', 'paths']);

function randomRule(r: () => number): { rule: AuthorizationRule; usesHttpOnly: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const some = (xs: readonly string[]): string[] => xs.filter(() => r() < 0.4);
  let usesHttpOnly = false;
  const fields = (names: readonly string[]) => {
    const out: Record<string, string[]> = {};
    for (const f of names) {
      if (r() > 0.3) continue;
      const values = some(POOLS[f] ?? []);
      if (values.length === 0) continue;
      const key = r() < 0.3 ? `not${f[0]?.toUpperCase()}${f.slice(1)}` : f;
      out[key] = values;
      if (HTTP_ONLY.has(f)) usesHttpOnly = true;
    }
    return out;
  };
  const rule: AuthorizationRule = {};
  const from = Array.from({ length: Math.floor(r() * 3) }, () => ({ source: fields(SOURCE_FIELDS) })).filter(
    (f) => Object.keys(f.source).length > 0,
  );
  const to = Array.from({ length: Math.floor(r() * 3) }, () => ({
    operation: fields(OPERATION_FIELDS),
  })).filter((t) => Object.keys(t.operation).length > 0);
  const when = Array.from({ length: Math.floor(r() * 3) }, () => {
    const [key, values] = pick(WHEN);
    if (key.startsWith('request.')) usesHttpOnly = true;
    return r() < 0.3 ? { key, notValues: [pick(values)] } : { key, values: [pick(values)] };
  });
  if (from.length > 0) rule.from = from;
  if (to.length > 0) rule.to = to;
  if (when.length > 0) rule.when = when;
  return { rule, usesHttpOnly };
}

test(`random policies (seed ${SEED}, ${CASES} cases): accepted ones translate into valid RBAC`, () => {
  const r = rng(SEED);
  let accepted = 0;
  for (let i = 0; i < CASES; i++) {
    const { rule, usesHttpOnly } = randomRule(r);
    const problems = new Problems();
    validateAuthorizationPolicy({ action: 'DENY', rules: [rule] }, problems);
    if (!problems.ok) continue;
    accepted++;
    for (const action of ['ALLOW', 'DENY', 'LOG'] as RbacAction[]) {
      for (const forTcp of [false, true]) {
        const where = `case ${i} ${action} ${forTcp ? 'tcp' : 'http'}: ${JSON.stringify(rule)}`;
        const t = translateRule(rule, 'ns', forTcp, action);
        if (forTcp && action === 'ALLOW') assert.equal(t.policy === undefined, usesHttpOnly, where);
        else assert.ok(t.policy, where);
        if (t.policy === undefined) continue;
        const findings = validateRules(TYPE.rbac, { rules: { action, policies: { p: t.policy } } });
        assert.deepEqual(findings, [], where);
      }
    }
  }
  assert.ok(accepted > CASES / 4, `only ${accepted} of ${CASES} random policies were valid`);
});
