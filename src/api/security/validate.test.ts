import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, Problems } from '../../core/errors.js';
import { lookupKind } from '../kinds.js';
import { SECURITY_KINDS } from './kinds.js';
import { SECURITY_EXAMPLES } from './istio-examples.js';
import { validateAuthorizationPolicy } from './validate-authorization-policy.js';
import { validatePeerAuthentication } from './validate-peer-authentication.js';
import { validateRequestAuthentication } from './validate-request-authentication.js';

const VALIDATORS = {
  PeerAuthentication: validatePeerAuthentication,
  AuthorizationPolicy: validateAuthorizationPolicy,
  RequestAuthentication: validateRequestAuthentication,
} as const;
type Kind = keyof typeof VALIDATORS;

function check(kind: Kind, spec: unknown): { errors: string[]; warnings: string[] } {
  const problems = new Problems();
  VALIDATORS[kind](spec, problems, 'spec');
  return {
    errors: problems.errors.map(formatProblem),
    warnings: problems.warnings.map(formatProblem),
  };
}

const sel = { matchLabels: { app: 'httpbin' } };
const allow = (rules: unknown[], extra: object = {}) => ({ selector: sel, rules, ...extra });
const deny = (rules: unknown[]) => ({ selector: sel, action: 'DENY', rules });
const from = (source: object) => [{ from: [{ source }] }];
const to = (operation: object) => [{ to: [{ operation }] }];
const when = (...conditions: object[]) => [{ when: conditions }];
const jwt = (rule: object) => ({ jwtRules: [{ issuer: 'issuer-foo', ...rule }] });

const VALID = SECURITY_EXAMPLES;

test('security examples from Istio docs validate cleanly', () => {
  for (const [name, kind, spec] of VALID) {
    assert.deepEqual(check(kind, spec), { errors: [], warnings: [] }, name);
  }
});

// Each case: [description, kind, spec, the exact error strings].
const INVALID: [string, Kind, unknown, string[]][] = [
  // PeerAuthentication
  [
    'unknown mode',
    'PeerAuthentication',
    { mtls: { mode: 'BLAH' } },
    ['spec.mtls.mode: "BLAH" is not valid; expected one of UNSET, DISABLE, PERMISSIVE, STRICT'],
  ],
  [
    'port-level mTLS without selector',
    'PeerAuthentication',
    { portLevelMtls: { '80': { mode: 'STRICT' } } },
    [
      'spec.portLevelMtls: requires a selector with matchLabels; a mesh- or namespace-wide policy cannot set port-level mTLS',
    ],
  ],
  [
    'port-level mTLS with a label-less selector',
    'PeerAuthentication',
    { selector: {}, portLevelMtls: { '80': {} } },
    [
      'spec.portLevelMtls: requires a selector with matchLabels; a mesh- or namespace-wide policy cannot set port-level mTLS',
    ],
  ],
  [
    'empty portLevelMtls',
    'PeerAuthentication',
    { selector: sel, portLevelMtls: {} },
    ['spec.portLevelMtls: must have at least one port when set'],
  ],
  [
    'bad ports',
    'PeerAuthentication',
    {
      selector: sel,
      portLevelMtls: { '0': { mode: 'STRICT' }, '42949672': {}, acd: {}, '80': { mode: 'strict' } },
    },
    [
      'spec.portLevelMtls.0: port "0" must be a number in 1..65535',
      'spec.portLevelMtls.80.mode: "strict" is not valid; expected one of UNSET, DISABLE, PERMISSIVE, STRICT',
      'spec.portLevelMtls.42949672: port "42949672" must be a number in 1..65535',
      'spec.portLevelMtls.acd: port "acd" must be a number in 1..65535',
    ],
  ],
  [
    'wildcard selector',
    'PeerAuthentication',
    { selector: { matchLabels: { app: '*' } } },
    ['spec.selector.matchLabels.app: wildcard not allowed in a label value'],
  ],
  [
    'targetRef is not a PeerAuthentication field',
    'PeerAuthentication',
    { targetRef: { kind: 'Service', name: 'a' } },
    ['spec.targetRef: unknown field; allowed: selector, mtls, portLevelMtls'],
  ],

  // AuthorizationPolicy: actions and providers
  [
    'DENY without rules',
    'AuthorizationPolicy',
    { action: 'DENY' },
    [
      'spec.rules: required with action DENY: without rules the policy never matches; add an empty rule {} to match every request',
    ],
  ],
  [
    'DENY with empty rules',
    'AuthorizationPolicy',
    { action: 'DENY', rules: [] },
    [
      'spec.rules: required with action DENY: without rules the policy never matches; add an empty rule {} to match every request',
    ],
  ],
  [
    'CUSTOM without rules',
    'AuthorizationPolicy',
    { action: 'CUSTOM', provider: { name: 'x' } },
    [
      'spec.rules: required with action CUSTOM: without rules the policy never matches; add an empty rule {} to match every request',
    ],
  ],
  [
    'CUSTOM without provider',
    'AuthorizationPolicy',
    { action: 'CUSTOM', rules: [{}] },
    ['spec.provider.name: required with action CUSTOM; must not be empty'],
  ],
  [
    'provider without CUSTOM',
    'AuthorizationPolicy',
    { provider: { name: 'x' }, rules: [{}] },
    ['spec.provider: only allowed with action CUSTOM; the action is ALLOW'],
  ],
  [
    'lower-case action',
    'AuthorizationPolicy',
    { action: 'deny', rules: [{}] },
    ['spec.action: "deny" is not valid; expected one of ALLOW, DENY, AUDIT, CUSTOM'],
  ],
  [
    'CUSTOM on identities',
    'AuthorizationPolicy',
    {
      action: 'CUSTOM',
      provider: { name: 'x' },
      rules: [
        {
          from: [{ source: { principals: ['a'], ipBlocks: ['1.2.3.4'] } }],
          when: [{ key: 'request.auth.principal', values: ['a'] }],
        },
      ],
    },
    [
      'spec.rules[0].from[0].source.principals: not supported with action CUSTOM',
      'spec.rules[0].when[0].key: request.auth.principal is not supported with action CUSTOM',
    ],
  ],
  [
    'selector and targetRef',
    'AuthorizationPolicy',
    { selector: sel, targetRef: { kind: 'Service', name: 'a' } },
    ['spec: only one of selector, targetRef, targetRefs may be set; found selector, targetRef'],
  ],
  [
    'bad targetRefs',
    'AuthorizationPolicy',
    {
      targetRefs: [
        { kind: 'Deployment', group: 'apps', name: 'a' },
        { kind: 'Service', name: 'b', namespace: 'other' },
        { kind: 'Service' },
      ],
    },
    [
      'spec.targetRefs[0]: cannot target apps/Deployment; expected one of Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway, gateway.networking.k8s.io/GatewayClass',
      'spec.targetRefs[1].namespace: must not be set; cross-namespace references are not supported',
      'spec.targetRefs[2].name: required',
    ],
  ],

  // AuthorizationPolicy: rules
  [
    'null rule',
    'AuthorizationPolicy',
    { rules: [null] },
    ['spec.rules[0]: must not be null; use {} for a rule that matches every request'],
  ],
  [
    'empty from, to and when',
    'AuthorizationPolicy',
    { rules: [{ from: [], to: [], when: [] }] },
    [
      'spec.rules[0].from: must not be empty',
      'spec.rules[0].to: must not be empty',
      'spec.rules[0].when: must not be empty',
    ],
  ],
  [
    'from without source, empty source',
    'AuthorizationPolicy',
    { rules: [{ from: [{}, { source: {} }, null] }] },
    [
      'spec.rules[0].from[0].source: required',
      'spec.rules[0].from[1].source: must not be empty; set at least one field',
      'spec.rules[0].from[2]: must not be null',
    ],
  ],
  [
    'to without operation, empty operation',
    'AuthorizationPolicy',
    { rules: [{ to: [{}, { operation: { paths: [] } }] }] },
    [
      'spec.rules[0].to[0].operation: required',
      'spec.rules[0].to[1].operation: must not be empty; set at least one field',
    ],
  ],
  [
    'empty values',
    'AuthorizationPolicy',
    allow(from({ principals: [''], notNamespaces: ['ok', ''] })),
    [
      'spec.rules[0].from[0].source.principals[0]: must not be empty',
      'spec.rules[0].from[0].source.notNamespaces[1]: must not be empty',
    ],
  ],
  [
    'serviceAccounts with principals',
    'AuthorizationPolicy',
    allow(from({ serviceAccounts: ['baz/sa'], principals: ['bar'] })),
    ['spec.rules[0].from[0].source: cannot set serviceAccounts together with principals'],
  ],
  [
    'notServiceAccounts with namespaces',
    'AuthorizationPolicy',
    allow(from({ notServiceAccounts: ['sa'], namespaces: ['bar'] })),
    ['spec.rules[0].from[0].source: cannot set notServiceAccounts together with namespaces'],
  ],
  [
    'bad service accounts',
    'AuthorizationPolicy',
    allow(from({ serviceAccounts: ['ns/*', 'a/b/c', '/sa', 'ns/'] })),
    [
      'spec.rules[0].from[0].source.serviceAccounts[0]: "ns/*": wildcards are not allowed in service accounts',
      'spec.rules[0].from[0].source.serviceAccounts[1]: "a/b/c": expected SERVICE_ACCOUNT or NAMESPACE/SERVICE_ACCOUNT',
      'spec.rules[0].from[0].source.serviceAccounts[2]: "/sa": expected SERVICE_ACCOUNT or NAMESPACE/SERVICE_ACCOUNT',
      'spec.rules[0].from[0].source.serviceAccounts[3]: "ns/": expected SERVICE_ACCOUNT or NAMESPACE/SERVICE_ACCOUNT',
    ],
  ],
  [
    'too many service accounts',
    'AuthorizationPolicy',
    allow(from({ serviceAccounts: Array.from({ length: 17 }, (_, i) => `sa${i}`) })),
    ['spec.rules[0].from[0].source.serviceAccounts: at most 16 entries; found 17'],
  ],
  [
    'bad trust domains',
    'AuthorizationPolicy',
    allow(from({ trustDomains: ['a*b', 'td/x'] })),
    [
      'spec.rules[0].from[0].source.trustDomains[0]: "a*b": a wildcard \'*\' is only allowed at the start or the end',
      'spec.rules[0].from[0].source.trustDomains[1]: "td/x": a trust domain has no \'/\'',
    ],
  ],
  [
    'bad IP blocks',
    'AuthorizationPolicy',
    allow(from({ ipBlocks: ['1.2.3.4/33', 'example.com'], notRemoteIpBlocks: ['::1/129'] })),
    [
      'spec.rules[0].from[0].source.ipBlocks[0]: "1.2.3.4/33" is not an IP address or CIDR block',
      'spec.rules[0].from[0].source.ipBlocks[1]: "example.com" is not an IP address or CIDR block',
      'spec.rules[0].from[0].source.notRemoteIpBlocks[0]: "::1/129" is not an IP address or CIDR block',
    ],
  ],
  [
    'bad ports',
    'AuthorizationPolicy',
    allow(to({ ports: ['65536', '-1', 'http', '8.0'], notPorts: [''] })),
    [
      'spec.rules[0].to[0].operation.ports[0]: "65536" is not a port number (0..65535)',
      'spec.rules[0].to[0].operation.ports[1]: "-1" is not a port number (0..65535)',
      'spec.rules[0].to[0].operation.ports[2]: "http" is not a port number (0..65535)',
      'spec.rules[0].to[0].operation.ports[3]: "8.0" is not a port number (0..65535)',
      'spec.rules[0].to[0].operation.notPorts[0]: must not be empty',
    ],
  ],
  [
    'a port as a number',
    'AuthorizationPolicy',
    allow(to({ ports: [8080] })),
    ['spec.rules[0].to[0].operation.ports[0]: expected a string, got the number 8080'],
  ],
  [
    'a * inside a path (a DENY bypass)',
    'AuthorizationPolicy',
    deny(to({ paths: ['/admin*x'], ports: ['80'] })),
    [
      'spec.rules[0].to[0].operation.paths[0]: "/admin*x": a wildcard \'*\' is only allowed at the start or the end; for segments use {*} or {**}',
    ],
  ],
  [
    'two * in a notPath',
    'AuthorizationPolicy',
    allow(to({ notPaths: ['*admin*'] })),
    [
      'spec.rules[0].to[0].operation.notPaths[0]: "*admin*": at most one wildcard \'*\' is allowed; for segments use {*} or {**}',
    ],
  ],
  [
    'bad path templates',
    'AuthorizationPolicy',
    allow(to({ paths: ['/{**}/foo/{*}', '/foo/{*}bar', '/foo/{*}/b*r', '/{x}', '/a//{*}', 'api/{*}'] })),
    [
      'spec.rules[0].to[0].operation.paths[0]: "/{**}/foo/{*}": {**} must be the last template operator',
      "spec.rules[0].to[0].operation.paths[1]: \"/foo/{*}bar\": '{' and '}' are only allowed as whole {*} or {**} segments",
      'spec.rules[0].to[0].operation.paths[2]: "/foo/{*}/b*r": segment "b*r" is not a valid path literal in a template',
      "spec.rules[0].to[0].operation.paths[3]: \"/{x}\": '{' and '}' are only allowed in {*} and {**} templates",
      'spec.rules[0].to[0].operation.paths[4]: "/a//{*}": segment "" is not a valid path literal in a template',
      'spec.rules[0].to[0].operation.paths[5]: "api/{*}": a path template must start with \'/\'',
    ],
  ],
  [
    'conditions',
    'AuthorizationPolicy',
    allow(
      when(
        { key: 'request.headers', values: ['a'] },
        { key: 'request.headers[]', values: ['a'] },
        { key: 'source.ip', values: ['10.0.0.0/33'] },
        { key: 'destination.port', notValues: ['99999'] },
        { key: 'source.principal' },
        { key: 'destination.labels[app]', values: ['a'] },
        { key: 'request.method', values: ['GET'] },
        { values: ['x'] },
        { key: 'source.namespace', values: [''] },
      ),
    ),
    [
      'spec.rules[0].when[0].key: "request.headers": expected the form request.headers[NAME]',
      'spec.rules[0].when[1].key: "request.headers[]": expected the form request.headers[NAME]',
      'spec.rules[0].when[2].values[0]: "10.0.0.0/33" is not an IP address or CIDR block',
      'spec.rules[0].when[3].notValues[0]: "99999" is not a port number (0..65535)',
      'spec.rules[0].when[4]: at least one of values, notValues must be set for key source.principal',
      "spec.rules[0].when[5].key: destination.labels[app] is replaced by the policy's selector",
      'spec.rules[0].when[6].key: unknown attribute "request.method"; expected one of request.headers[NAME], request.auth.claims[NAME], source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, source.trustDomain, request.auth.principal, request.auth.audiences, request.auth.presenter, destination.ip, destination.port, connection.sni, experimental.envoy.filters.*',
      'spec.rules[0].when[7].key: required',
      'spec.rules[0].when[8].values[0]: must not be empty',
    ],
  ],

  // RequestAuthentication
  [
    'no issuer and no jwksUri',
    'RequestAuthentication',
    { jwtRules: [{ audiences: ['a'] }, null] },
    [
      'spec.jwtRules[0].issuer: required unless jwksUri is set; must not be empty',
      'spec.jwtRules[1]: must not be null',
    ],
  ],
  [
    'bad jwksUri',
    'RequestAuthentication',
    {
      jwtRules: [
        { issuer: 'a', jwksUri: 'hTPp\\\blah' },
        { issuer: 'b', jwksUri: 'ftp://example.com/keys' },
        { issuer: 'c', jwksUri: '' },
      ],
    },
    [
      'spec.jwtRules[0].jwksUri: "hTPp\\\\\\blah" is not a valid URL',
      'spec.jwtRules[1].jwksUri: "ftp://example.com/keys": the scheme must be http or https',
      'spec.jwtRules[2].jwksUri: must not be empty',
    ],
  ],
  [
    'jwks and jwksUri',
    'RequestAuthentication',
    jwt({ jwksUri: 'https://a/k', jwks: '{"keys":[]}' }),
    ['spec.jwtRules[0]: only one of jwks, jwksUri may be set; found jwksUri, jwks'],
  ],
  [
    'jwks not JSON',
    'RequestAuthentication',
    jwt({ jwks: '-----BEGIN PRIVATE KEY-----' }),
    ['spec.jwtRules[0].jwks: is not valid JSON; expected a JSON Web Key Set'],
  ],
  [
    'jwks key without kty',
    'RequestAuthentication',
    jwt({ jwks: '{"keys":[{"n":"x"}]}' }),
    ['spec.jwtRules[0].jwks: key 0 has no "kty"'],
  ],
  [
    'empty audiences, params, cookies',
    'RequestAuthentication',
    jwt({ audiences: [''], fromParams: [''], fromCookies: [''] }),
    [
      'spec.jwtRules[0].audiences[0]: must not be empty',
      'spec.jwtRules[0].fromParams[0]: must not be empty',
      'spec.jwtRules[0].fromCookies[0]: must not be empty',
    ],
  ],
  [
    'fromHeaders without name',
    'RequestAuthentication',
    jwt({ fromHeaders: [{ prefix: 'baz' }, { name: '' }] }),
    [
      'spec.jwtRules[0].fromHeaders[0].name: required',
      'spec.jwtRules[0].fromHeaders[1].name: required; must not be empty',
    ],
  ],
  [
    'outputClaimToHeaders',
    'RequestAuthentication',
    jwt({
      outputClaimToHeaders: [
        { header: ':authority', claim: 'a' },
        { header: 'x y', claim: 'a' },
        { header: 'x-a' },
        { claim: 'a' },
      ],
    }),
    [
      'spec.jwtRules[0].outputClaimToHeaders[0].header: ":authority": pseudo-headers cannot be set from a claim',
      "spec.jwtRules[0].outputClaimToHeaders[1].header: \"x y\" is not a valid header name (letters, digits, '-' and '_')",
      'spec.jwtRules[0].outputClaimToHeaders[2].claim: required',
      'spec.jwtRules[0].outputClaimToHeaders[3].header: required',
    ],
  ],
  [
    'timeout below 1ms',
    'RequestAuthentication',
    jwt({ timeout: '0s' }),
    ['spec.jwtRules[0].timeout: duration "0s" must be at least 1ms'],
  ],
  [
    'unknown jwtRule field',
    'RequestAuthentication',
    jwt({ issuers: ['a'] }),
    [
      'spec.jwtRules[0].issuers: unknown field; allowed: issuer, audiences, jwksUri, jwks_uri, jwks, fromHeaders, fromParams, fromCookies, outputPayloadToHeader, forwardOriginalToken, outputClaimToHeaders, timeout, spaceDelimitedClaims',
    ],
  ],
];

for (const [name, kind, spec, expected] of INVALID) {
  test(`${kind}: ${name} is refused`, () => {
    assert.deepEqual(check(kind, spec).errors, expected);
  });
}

const WARNINGS: [string, Kind, unknown, string[]][] = [
  [
    'selector without labels',
    'PeerAuthentication',
    { selector: {} },
    ['spec.selector: selector without matchLabels selects every workload in the namespace'],
  ],
  [
    'AUDIT without rules',
    'AuthorizationPolicy',
    { action: 'AUDIT' },
    ['spec.rules: an AUDIT policy without rules never matches; add an empty rule {} to audit every request'],
  ],
  [
    'DENY on HTTP attributes only',
    'AuthorizationPolicy',
    deny(to({ paths: ['/admin'] })),
    [
      'spec.rules[0]: this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports the policy covers; name the ports explicitly',
    ],
  ],
  [
    'a literal * in a principal',
    'AuthorizationPolicy',
    allow(from({ principals: ['cluster.local/ns/*/sa/a'] })),
    [
      'spec.rules[0].from[0].source.principals[0]: "cluster.local/ns/*/sa/a": \'*\' only matches at the start or the end; here it is compared literally',
    ],
  ],
  [
    'private key in jwks',
    'RequestAuthentication',
    jwt({ jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB","d":"secret"}]}' }),
    ['spec.jwtRules[0].jwks: key 0 holds private key material; only public keys are needed to verify tokens'],
  ],
];

for (const [name, kind, spec, expected] of WARNINGS) {
  test(`${kind}: ${name} is accepted with a warning`, () => {
    assert.deepEqual(check(kind, spec), { errors: [], warnings: expected });
  });
}

test('jwks content never appears in messages', () => {
  const secret = 'very-secret-key-material';
  const all = [
    ...check('RequestAuthentication', jwt({ jwks: `{"keys":[{"kty":"oct","k":"${secret}"}]}` })).warnings,
    ...check('RequestAuthentication', jwt({ jwks: `not json ${secret}` })).errors,
  ];
  assert.equal(all.length, 2);
  for (const m of all) assert.ok(!m.includes(secret), m);
});

test('the security kinds are accepted in both versions Istio serves', () => {
  assert.deepEqual(
    SECURITY_KINDS.map((d) => `${d.group}/${d.versions.join(',')}/${d.kind}`),
    [
      'security.istio.io/v1,v1beta1/PeerAuthentication',
      'security.istio.io/v1,v1beta1/AuthorizationPolicy',
      'security.istio.io/v1,v1beta1/RequestAuthentication',
    ],
  );
  for (const def of SECURITY_KINDS) {
    for (const version of def.versions) {
      const found = lookupKind(`security.istio.io/${version}`, def.kind);
      assert.ok(found.ok, `${def.kind} ${version} is accepted`);
    }
    const old = lookupKind('security.istio.io/v1alpha1', def.kind);
    assert.ok(!old.ok && !old.skip && old.path === 'apiVersion', `${def.kind} v1alpha1 is refused`);
  }
});
