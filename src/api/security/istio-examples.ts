/**
 * Security resources from Istio's documentation (istio.io/latest/docs/reference/config/security/
 * and the security tasks), as specs. Test support, imported by tests only: the validators must
 * accept them (api/security/validate.test.ts) and the translation must turn them into config
 * that holds to Envoy's rules (xds/translate/security).
 */
export type SecurityExampleKind = 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication';

const sel = { matchLabels: { app: 'httpbin' } };
const allow = (rules: unknown[], extra: object = {}) => ({ selector: sel, rules, ...extra });
const from = (source: object) => [{ from: [{ source }] }];
const to = (operation: object) => [{ to: [{ operation }] }];
const when = (...conditions: object[]) => [{ when: conditions }];
const jwt = (rule: object) => ({ jwtRules: [{ issuer: 'issuer-foo', ...rule }] });

// Examples from istio.io/latest/docs/reference/config/security/ and the security tasks.
export const SECURITY_EXAMPLES: [string, SecurityExampleKind, unknown][] = [
  ['mesh-wide STRICT', 'PeerAuthentication', { mtls: { mode: 'STRICT' } }],
  ['empty namespace policy', 'PeerAuthentication', {}],
  [
    'workload policy with port-level mTLS',
    'PeerAuthentication',
    {
      selector: { matchLabels: { app: 'finance' } },
      mtls: { mode: 'STRICT' },
      portLevelMtls: { '8080': { mode: 'DISABLE' }, '9090': { mode: 'UNSET' } },
    },
  ],
  ['allow nothing', 'AuthorizationPolicy', {}],
  ['allow all', 'AuthorizationPolicy', { rules: [{}] }],
  ['deny all', 'AuthorizationPolicy', { action: 'DENY', rules: [{}] }],
  [
    'the reference ALLOW example',
    'AuthorizationPolicy',
    allow([
      {
        from: [
          { source: { principals: ['cluster.local/ns/default/sa/curl'] } },
          { source: { namespaces: ['test'] } },
        ],
        to: [
          { operation: { methods: ['GET'], paths: ['/info*'] } },
          { operation: { methods: ['POST'], paths: ['/data'] } },
        ],
        when: [{ key: 'request.auth.claims[iss]', values: ['https://accounts.google.com'] }],
      },
    ]),
  ],
  [
    'the reference DENY example',
    'AuthorizationPolicy',
    {
      selector: sel,
      action: 'DENY',
      rules: [
        {
          from: [{ source: { notNamespaces: ['foo'] } }],
          to: [{ operation: { paths: ['/admin'], ports: ['8080'] } }],
        },
      ],
    },
  ],
  [
    'ipBlocks, remoteIpBlocks, serviceAccounts and ports',
    'AuthorizationPolicy',
    allow([
      {
        from: [
          {
            source: {
              serviceAccounts: ['default/curl', 'sleep'],
              ipBlocks: ['1.2.3.4', '5.6.7.0/24', '2001:db8::/32'],
              notRemoteIpBlocks: ['10.0.0.0/8'],
              requestPrincipals: ['*'],
            },
          },
        ],
        to: [{ operation: { ports: ['0', '65535'], hosts: ['*.example.com'], notPaths: ['*/healthz'] } }],
      },
    ]),
  ],
  [
    'path templates',
    'AuthorizationPolicy',
    allow(to({ paths: ['/foo/{*}', '/foo/{**}', '/{*}/bar/{**}', '/foo/{*}/x'] })),
  ],
  [
    'every documented condition key',
    'AuthorizationPolicy',
    allow(
      when(
        { key: 'request.headers[User-Agent]', values: ['Mozilla/*'] },
        { key: 'source.ip', values: ['10.1.2.3', '10.2.0.0/16'] },
        { key: 'remote.ip', notValues: ['10.1.2.3'] },
        { key: 'source.namespace', values: ['default'] },
        { key: 'source.principal', values: ['cluster.local/ns/default/sa/productpage'] },
        { key: 'request.auth.principal', values: ['accounts.my-svc.com/104958560606'] },
        { key: 'request.auth.audiences', values: ['my-svc.com'] },
        { key: 'request.auth.presenter', values: ['123456789012.my-svc.com'] },
        { key: 'request.auth.claims[groups]', values: ['group1'] },
        { key: 'destination.ip', values: ['10.1.2.3'] },
        { key: 'destination.port', values: ['80', '443'] },
        { key: 'connection.sni', values: ['www.example.com'] },
        { key: 'experimental.envoy.filters.network.mysql_proxy[db.table]', values: ['[update]'] },
      ),
    ),
  ],
  [
    'CUSTOM with a provider',
    'AuthorizationPolicy',
    {
      selector: sel,
      action: 'CUSTOM',
      provider: { name: 'my-ext-authz' },
      rules: to({ paths: ['/admin/*'] }),
    },
  ],
  [
    'AUDIT',
    'AuthorizationPolicy',
    { selector: sel, action: 'AUDIT', rules: to({ paths: ['/user/profile/*'] }) },
  ],
  [
    'targetRef to a Gateway',
    'AuthorizationPolicy',
    {
      targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' },
      rules: from({ principals: ['cluster.local/ns/default/sa/curl'] }),
    },
  ],
  [
    'targetRefs to a Service and a ServiceEntry',
    'RequestAuthentication',
    {
      targetRefs: [
        { kind: 'Service', group: '', name: 'productpage' },
        { kind: 'ServiceEntry', group: 'networking.istio.io', name: 'ext' },
      ],
      jwtRules: [{ issuer: 'issuer-foo', jwksUri: 'https://example.com/.well-known/jwks.json' }],
    },
  ],
  [
    'the reference RequestAuthentication',
    'RequestAuthentication',
    {
      selector: sel,
      jwtRules: [
        {
          issuer: 'issuer-foo',
          audiences: ['bookstore_android.apps.example.com'],
          jwksUri: 'https://example.com/.well-known/jwks.json',
          fromHeaders: [{ name: 'x-jwt-assertion', prefix: 'Bearer ' }],
          fromParams: ['my_token'],
          fromCookies: ['session'],
          outputPayloadToHeader: 'x-jwt-payload',
          forwardOriginalToken: true,
          outputClaimToHeaders: [{ header: 'x-my-company-jwt-group', claim: 'my-group' }],
          timeout: '5s',
        },
      ],
    },
  ],
  [
    'jwksUri without issuer (Istio allows it)',
    'RequestAuthentication',
    { jwtRules: [{ jwksUri: 'http://jwks.local:8080/keys' }] },
  ],
  [
    'inline public jwks',
    'RequestAuthentication',
    jwt({ jwks: JSON.stringify({ keys: [{ kty: 'RSA', e: 'AQAB', n: 'abc', kid: '1' }] }) }),
  ],
];
