import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { loadFile } from '../parse.js';
import { validateResource } from '../validate.js';

const FIXTURES = new URL('../../../test/fixtures/api/valid/', import.meta.url).pathname;

function resource(kind: string, spec: unknown) {
  return { apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 't' }, spec };
}

function errorsOf(kind: string, spec: unknown): string[] {
  return validateResource(resource(kind, spec))
    .filter((p) => p.severity === 'error')
    .map(formatProblem);
}

function warningsOf(kind: string, spec: unknown): string[] {
  return validateResource(resource(kind, spec))
    .filter((p) => p.severity === 'warning')
    .map(formatProblem);
}

const dest = (host: string, extra: object = {}) => ({ destination: { host, ...extra } });
const vs = (http: unknown[], extra: object = {}) => ({ hosts: ['reviews'], http, ...extra });
const route = (extra: object = {}) => ({ route: [dest('reviews')], ...extra });

/** Warnings istioctl gives on the same documents. */
const ISTIO_WARNS_TOO = ['spec.address: unset: the workload is reached through network'];

test('the documented Istio examples under test/fixtures/api/valid validate cleanly', async () => {
  const names = (await readdir(FIXTURES, { recursive: true }))
    .filter((n) => /\.(ya?ml|json)$/.test(n))
    .sort();
  const docs = (await Promise.all(names.map((n) => loadFile(path.join(FIXTURES, n))))).flat();
  assert.ok(docs.length >= 30, `expected the whole fixture set, got ${docs.length} documents`);
  for (const d of docs) {
    const where = `${d.source.file}:${d.source.doc}`;
    // Istio's own examples may draw Istio's own warnings (istioctl prints them too); nothing else.
    const unexpected = d.problems.filter(
      (p) => p.severity === 'error' || !ISTIO_WARNS_TOO.some((w) => formatProblem(p).includes(w)),
    );
    assert.deepEqual(unexpected.map(formatProblem), [], where);
    assert.ok(d.resource, `${where} has a resource`);
  }
});

// Each case: [description, kind, spec, the exact error strings].
const INVALID: [string, string, unknown, string[]][] = [
  // VirtualService
  [
    'all weights zero',
    'VirtualService',
    vs([
      {
        route: [dest('reviews', { subset: 'v1' }), dest('reviews', { subset: 'v2' })].map((d) => ({
          ...d,
          weight: 0,
        })),
      },
    ]),
    ['spec.http[0].route: weights sum to 0'],
  ],
  [
    'weight out of range',
    'VirtualService',
    vs([
      {
        route: [
          { ...dest('a'), weight: 150 },
          { ...dest('b'), weight: -50 },
        ],
      },
    ]),
    [
      'spec.http[0].route[0].weight: 150 is out of range; expected 0..100',
      'spec.http[0].route[1].weight: -50 is out of range; expected 0..100',
    ],
  ],
  [
    'redirect with route',
    'VirtualService',
    vs([route(), route({ redirect: { uri: '/v2' } })]),
    ['spec.http[1].redirect: cannot be combined with route'],
  ],
  [
    'directResponse with route and redirect',
    'VirtualService',
    vs([route({ redirect: { uri: '/x' }, directResponse: { status: 503 } })]),
    [
      'spec.http[0].redirect: cannot be combined with route',
      'spec.http[0].directResponse: cannot be combined with route',
      'spec.http[0].directResponse: cannot be combined with redirect',
    ],
  ],
  [
    'no action',
    'VirtualService',
    vs([{ match: [{ uri: { prefix: '/a' } }] }]),
    ['spec.http[0]: one of route, redirect, directResponse or delegate is required'],
  ],
  [
    'unknown field names the allowed ones',
    'VirtualService',
    vs([route({ retry: { attempts: 3 } })]),
    [
      'spec.http[0].retry: unknown field; allowed: name, match, route, redirect, directResponse, delegate, rewrite, timeout, retries, fault, mirror, mirrorPercentage, mirrorPercent, mirrors, corsPolicy, headers',
    ],
  ],
  [
    'string match with two kinds',
    'VirtualService',
    vs([route({ match: [{ uri: { exact: '/a', prefix: '/b' } }] })]),
    ['spec.http[0].match[0].uri: exactly one of exact, prefix, regex may be set; found exact, prefix'],
  ],
  [
    'string match with none',
    'VirtualService',
    vs([route({ match: [{ uri: {} }] })]),
    ['spec.http[0].match[0].uri: expected one of exact, prefix, regex'],
  ],
  [
    'regex that RE2 rejects',
    'VirtualService',
    vs([route({ match: [{ headers: { cookie: { regex: '(?<=user)=jason' } } }] })]),
    [
      'spec.http[0].match[0].headers.cookie.regex: invalid RE2 regex "(?<=user)=jason": invalid perl operator: (?<=',
    ],
  ],
  [
    'bad durations',
    'VirtualService',
    vs([route({ timeout: '10', retries: { attempts: 3, perTryTimeout: '0s' } })]),
    [
      'spec.http[0].timeout: invalid duration "10": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
      'spec.http[0].retries.perTryTimeout: duration "0s" must be at least 1ms',
    ],
  ],
  [
    'fault percentages and status',
    'VirtualService',
    vs([
      route({
        fault: { delay: { fixedDelay: '5s', percentage: { value: 120 } }, abort: { httpStatus: 700 } },
      }),
    ]),
    [
      'spec.http[0].fault.delay.percentage.value: 120 is out of range; expected 0..100',
      'spec.http[0].fault.abort.httpStatus: 700 is out of range; expected 200..599',
    ],
  ],
  [
    'fault abort without a status',
    'VirtualService',
    vs([route({ fault: { abort: { percentage: { value: 10 } } } })]),
    ['spec.http[0].fault.abort: requires httpStatus or grpcStatus'],
  ],
  [
    'fault without delay or abort',
    'VirtualService',
    vs([route({ fault: {} })]),
    ['spec.http[0].fault: requires a delay, an abort or both'],
  ],
  [
    'retries: negative attempts, unknown retryOn',
    'VirtualService',
    vs([route({ retries: { attempts: -1, retryOn: '5xx,connect-failures,503' } })]),
    [
      'spec.http[0].retries.attempts: -1 is out of range; expected >= 0',
      'spec.http[0].retries.retryOn: "connect-failures" is not a retry condition; expected a comma-separated list of 5xx, gateway-error, reset, reset-before-request, connect-failure, envoy-ratelimited, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, http3-post-connect-failure, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable or HTTP status codes',
    ],
  ],
  [
    'missing hosts is a delegate: no gateways',
    'VirtualService',
    { gateways: ['gw'], http: [route()] },
    ['spec.gateways: a delegate VirtualService (no hosts) must not set gateways'],
  ],
  ['empty host', 'VirtualService', vs([route()], { hosts: [''] }), ['spec.hosts[0]: host must not be empty']],
  [
    'wildcard host bound to the mesh',
    'VirtualService',
    vs([route()], { hosts: ['*'] }),
    ['spec.hosts[0]: wildcard host * is not allowed for virtual services bound to the mesh gateway'],
  ],
  [
    'destination without host',
    'VirtualService',
    vs([{ route: [{ destination: { subset: 'v1' } }] }]),
    ['spec.http[0].route[0].destination.host: required'],
  ],
  [
    'no routes at all',
    'VirtualService',
    { hosts: ['reviews'] },
    ['spec: at least one of http, tls or tcp routes is required'],
  ],
  [
    'mirror and mirrors, mirror percentage over 100',
    'VirtualService',
    vs([
      route({
        mirror: { host: 'a' },
        mirrors: [{ destination: { host: 'b' } }],
        mirrorPercentage: { value: 101 },
      }),
    ]),
    [
      'spec.http[0].mirrorPercentage.value: 101 is out of range; expected 0..100',
      'spec.http[0].mirrors: cannot be combined with mirror',
    ],
  ],
  [
    'cors: bad method and sub-second maxAge',
    'VirtualService',
    vs([
      route({
        corsPolicy: { allowOrigins: [{ exact: 'https://a' }], allowMethods: ['FETCH'], maxAge: '1500ms' },
      }),
    ]),
    [
      'spec.http[0].corsPolicy.allowMethods[0]: "FETCH" is not an HTTP method; expected one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH or *',
      'spec.http[0].corsPolicy.maxAge: only whole seconds are supported',
    ],
  ],
  [
    'delegate in a delegate VirtualService',
    'VirtualService',
    { http: [{ delegate: { name: 'x' } }] },
    ['spec.http[0].delegate: a delegate VirtualService cannot delegate again'],
  ],
  [
    'redirect code and empty redirect',
    'VirtualService',
    vs([{ redirect: { redirectCode: 200 } }]),
    [
      'spec.http[0].redirect: requires one of uri, prefixRewrite, authority, scheme, port or derivePort',
      'spec.http[0].redirect.redirectCode: 200 is out of range; expected 300..399',
    ],
  ],
  [
    'header operation names',
    'VirtualService',
    vs([route({ headers: { request: { set: { 'bad header': 'x' } }, response: { remove: [':status'] } } })]),
    [
      'spec.http[0].headers.request.set.bad header: "bad header" is not a valid HTTP header name',
      'spec.http[0].headers.response.remove[0]: header ":status": pseudo-headers cannot be used here',
    ],
  ],
  [
    'TLS route SNI outside the hosts',
    'VirtualService',
    {
      hosts: ['*.bookinfo.com'],
      tls: [{ match: [{ sniHosts: ['login.example.com'] }], route: [dest('login')] }],
    },
    [
      'spec.tls[0].match[0].sniHosts[0]: SNI host "login.example.com" is not covered by any of the VirtualService\'s hosts',
    ],
  ],
  [
    'TCP route without destinations',
    'VirtualService',
    { hosts: ['mongo'], tcp: [{ match: [{ port: 27017, sourceSubnet: '10.0.0.0/33' }] }] },
    [
      'spec.tcp[0].match[0].sourceSubnet: "10.0.0.0/33" is not an IP address or CIDR block',
      'spec.tcp[0].route: required; must not be empty',
    ],
  ],
  [
    'wrong types',
    'VirtualService',
    { hosts: 'reviews', http: [route({ timeout: 5 })] },
    [
      'spec.hosts: expected a list, got the string "reviews"',
      'spec.http[0].timeout: expected a string, got the number 5',
    ],
  ],
  // DestinationRule
  [
    'duplicate and invalid subset names',
    'DestinationRule',
    { host: 'reviews', subsets: [{ name: 'v1' }, { name: 'v1' }, { name: 'V_2' }] },
    [
      'spec.subsets[1].name: duplicate subset name "v1"',
      'spec.subsets[2].name: "V_2" is not a valid DNS-1123 label: lower-case letters, digits and \'-\', starting and ending with a letter or digit',
    ],
  ],
  ['host required', 'DestinationRule', { subsets: [{ name: 'v1' }] }, ['spec.host: required']],
  [
    'simple and consistentHash together',
    'DestinationRule',
    {
      host: 'r',
      trafficPolicy: { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } },
    },
    [
      'spec.trafficPolicy.loadBalancer: only one of simple, consistentHash may be set; found simple, consistentHash',
    ],
  ],
  [
    'unknown simple policy, consistentHash without key',
    'DestinationRule',
    {
      host: 'r',
      subsets: [
        { name: 'a', trafficPolicy: { loadBalancer: { simple: 'WEIGHTED' } } },
        {
          name: 'b',
          trafficPolicy: { loadBalancer: { consistentHash: { ringHash: { minimumRingSize: 64 } } } },
        },
      ],
    },
    [
      'spec.subsets[0].trafficPolicy.loadBalancer.simple: "WEIGHTED" is not valid; expected one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST',
      'spec.subsets[1].trafficPolicy.loadBalancer.consistentHash: exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName is required',
    ],
  ],
  [
    'cookie without name and ttl',
    'DestinationRule',
    { host: 'r', trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { path: '/' } } } } },
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name: required',
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl: required',
    ],
  ],
  [
    'outlier detection percentages and connection pool durations',
    'DestinationRule',
    {
      host: 'r',
      trafficPolicy: {
        outlierDetection: { maxEjectionPercent: 150, interval: '-1s' },
        connectionPool: { tcp: { connectTimeout: 'fast', maxConnections: -1 } },
      },
    },
    [
      'spec.trafficPolicy.connectionPool.tcp.maxConnections: -1 is out of range; expected >= 0',
      'spec.trafficPolicy.connectionPool.tcp.connectTimeout: invalid duration "fast": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
      'spec.trafficPolicy.outlierDetection.interval: invalid duration "-1s": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
      'spec.trafficPolicy.outlierDetection.maxEjectionPercent: 150 is out of range; expected 0..100',
    ],
  ],
  [
    'locality distribute and failover together, weights not 100',
    'DestinationRule',
    {
      host: 'r',
      trafficPolicy: {
        loadBalancer: {
          localityLbSetting: {
            distribute: [{ from: 'us/*/a', to: { 'us/east/*': 60 } }],
            failover: [{ from: 'us', to: 'us' }],
          },
        },
      },
    },
    [
      'spec.trafficPolicy.loadBalancer.localityLbSetting: distribute and failover cannot both be set',
      'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].from: "us/*/a": \'*\' is only allowed as the last part',
      'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: weights sum to 60; they must sum to 100',
      'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: from and to must be different regions',
    ],
  ],
  [
    'port-level settings without port',
    'DestinationRule',
    { host: 'r', trafficPolicy: { portLevelSettings: [{ loadBalancer: { simple: 'RANDOM' } }] } },
    ['spec.trafficPolicy.portLevelSettings[0].port: required'],
  ],
  [
    'client TLS MUTUAL without certificates',
    'DestinationRule',
    { host: 'r', trafficPolicy: { tls: { mode: 'MUTUAL', caCertificates: '/ca.pem' } } },
    [
      'spec.trafficPolicy.tls.clientCertificate: required for MUTUAL mode (or set credentialName)',
      'spec.trafficPolicy.tls.privateKey: required for MUTUAL mode (or set credentialName)',
    ],
  ],
  // Gateway
  [
    'gateway without servers',
    'Gateway',
    { selector: { istio: 'ingressgateway' } },
    ['spec.servers: required; must not be empty'],
  ],
  [
    'server without port and hosts',
    'Gateway',
    { servers: [{ name: 's' }] },
    ['spec.servers[0].port: required', 'spec.servers[0].hosts: required; must not be empty'],
  ],
  [
    'server port protocol and host namespace',
    'Gateway',
    { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTPX' }, hosts: ['Bad_NS/foo.com'] }] },
    [
      'spec.servers[0].port.protocol: "HTTPX" is not a protocol; expected one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, REDIS, MYSQL',
      'spec.servers[0].hosts[0]: "Bad_NS/foo.com": namespace "Bad_NS" must be \'*\', \'.\' or a namespace name',
    ],
  ],
  [
    'HTTPS server without TLS; SIMPLE without key',
    'Gateway',
    {
      servers: [
        { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'] },
        {
          port: { number: 8443, name: 'https-2', protocol: 'HTTPS' },
          hosts: ['*'],
          tls: { mode: 'SIMPLE', serverCertificate: '/c.pem' },
        },
      ],
    },
    [
      'spec.servers[0].tls: required for protocol HTTPS',
      'spec.servers[1].tls.privateKey: required for SIMPLE mode (or set credentialName)',
    ],
  ],
  // ServiceEntry
  [
    'resolution NONE with endpoints',
    'ServiceEntry',
    {
      hosts: ['a.example.com'],
      ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      resolution: 'NONE',
      endpoints: [{ address: '1.1.1.1' }],
    },
    ['spec.endpoints: must be empty when resolution is NONE'],
  ],
  [
    'bad port (STATIC without endpoints is valid in Istio: a warning only)',
    'ServiceEntry',
    {
      hosts: ['a.example.com'],
      ports: [{ number: 70000, name: 'http', protocol: 'HTTP' }],
      resolution: 'STATIC',
    },
    ['spec.ports[0].number: 70000 is out of range; expected 1..65535'],
  ],
  [
    'STATIC endpoints must be IPs and name service ports',
    'ServiceEntry',
    {
      hosts: ['a.example.com'],
      addresses: ['10.0.0.1'],
      ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      resolution: 'STATIC',
      endpoints: [{ address: 'a.example.com', ports: { grpc: 9000 } }],
    },
    [
      'spec.endpoints[0].address: "a.example.com" must be an IP address (or unix:// path) with resolution STATIC',
      'spec.endpoints[0].ports.grpc: port name "grpc" is not one of the ServiceEntry\'s ports',
    ],
  ],
  [
    'hosts required; duplicate ports',
    'ServiceEntry',
    {
      hosts: [],
      ports: [
        { number: 80, name: 'http', protocol: 'HTTP' },
        { number: 80, name: 'http', protocol: 'HTTP' },
      ],
      resolution: 'DNS',
    },
    [
      'spec.hosts: required; must not be empty',
      'spec.ports[1].number: port 80 is already defined',
      'spec.ports[1].name: port name "http" is already defined',
    ],
  ],
  [
    'DNS resolution of a wildcard host',
    'ServiceEntry',
    {
      hosts: ['*.example.com'],
      ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }],
      resolution: 'DNS',
    },
    ['spec.hosts[0]: resolution DNS without endpoints needs hosts that DNS can resolve, not wildcards'],
  ],
  // WorkloadEntry
  ['workload entry without address', 'WorkloadEntry', { labels: { app: 'x' } }, ['spec.address: required']],
  [
    'workload entry bad port and weight',
    'WorkloadEntry',
    { address: '1.2.3.4', ports: { http: 0 }, weight: -1 },
    ['spec.ports.http: expected a port number 1..65535', 'spec.weight: -1 is out of range; expected >= 0'],
  ],
  // Sidecar
  [
    'egress hosts must be namespace/host',
    'Sidecar',
    { egress: [{ hosts: ['reviews.default.svc.cluster.local', 'a/b/c'] }] },
    [
      'spec.egress[0].hosts[0]: "reviews.default.svc.cluster.local": expected NAMESPACE/HOST, e.g. "./*", "istio-system/*" or "*/reviews.default.svc.cluster.local"',
      'spec.egress[0].hosts[1]: "a/b/c": expected NAMESPACE/HOST, e.g. "./*", "istio-system/*" or "*/reviews.default.svc.cluster.local"',
    ],
  ],
  [
    'egress without hosts; catch-all not last',
    'Sidecar',
    { egress: [{ hosts: ['./*'] }, { port: { number: 80, protocol: 'HTTP', name: 'http' } }] },
    [
      'spec.egress[0]: the egress listener without port must be the last one',
      'spec.egress[1].hosts: required; must not be empty',
    ],
  ],
  [
    'egressProxy with REGISTRY_ONLY',
    'Sidecar',
    {
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY', egressProxy: { host: 'proxy' } },
    },
    ['spec.outboundTrafficPolicy.egressProxy: only allowed with mode ALLOW_ANY'],
  ],
  // Values Envoy's validate rules reject (so the translation would be NACKed).
  [
    'empty regex (Envoy requires a non-empty RegexMatcher)',
    'VirtualService',
    vs([route({ match: [{ uri: { regex: '' }, headers: { x: { regex: '' } } }] })]),
    [
      'spec.http[0].match[0].uri.regex: must not be empty',
      'spec.http[0].match[0].headers.x.regex: must not be empty',
    ],
  ],
  [
    'header values and redirect targets with CR/LF, or longer than Envoy takes',
    'VirtualService',
    vs([
      route({
        headers: {
          request: { set: { 'x-a': 'one\ntwo' } },
          response: { add: { 'x-b': 'v'.repeat(16_385) } },
        },
      }),
      { redirect: { uri: '/x\r\nSet-Cookie: a=b', authority: 'a\u0000b' } },
    ]),
    [
      'spec.http[0].headers.request.set.x-a: "one\\ntwo": must not contain NUL, CR or LF',
      'spec.http[0].headers.response.add.x-b: must be at most 16384 bytes',
      'spec.http[1].redirect.uri: "/x\\r\\nSet-Cookie: a=b": must not contain NUL, CR or LF',
      'spec.http[1].redirect.authority: "a\\u0000b": must not contain NUL, CR or LF',
    ],
  ],
  [
    'ring and maglev sizes above what Envoy accepts',
    'DestinationRule',
    {
      host: 'reviews',
      trafficPolicy: {
        loadBalancer: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 8_388_609 } } },
      },
      subsets: [
        {
          name: 'v1',
          labels: { version: 'v1' },
          trafficPolicy: {
            loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 5_000_111 } } },
          },
        },
      ],
    },
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize: 8388609 is out of range; expected 0..8388608',
      'spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: 5000111 is out of range; expected 1..5000011',
    ],
  ],
];

for (const [name, kind, spec, want] of INVALID) {
  test(`invalid ${kind}: ${name}`, () => {
    assert.deepEqual(errorsOf(kind, spec), want);
  });
}

// Accepted with a warning: [description, kind, spec, the exact warning strings].
const WARNED: [string, string, unknown, string[]][] = [
  [
    'weights that do not sum to 100 are normalized',
    'VirtualService',
    vs([
      {
        route: [
          { ...dest('a'), weight: 30 },
          { ...dest('b'), weight: 30 },
        ],
      },
    ]),
    [
      'spec.http[0].route: weights sum to 60, not 100; traffic is split in proportion to the weights (each weight / 60)',
    ],
  ],
  [
    'deprecated allowOrigin',
    'VirtualService',
    vs([route({ corsPolicy: { allowOrigin: ['https://a.com'] } })]),
    ['spec.http[0].corsPolicy.allowOrigin: deprecated; use allowOrigins instead'],
  ],
  [
    'deprecated consecutiveErrors',
    'DestinationRule',
    { host: 'r', trafficPolicy: { outlierDetection: { consecutiveErrors: 5 } } },
    [
      'spec.trafficPolicy.outlierDetection.consecutiveErrors: deprecated; use consecutiveGatewayErrors or consecutive5xxErrors instead',
    ],
  ],
  [
    'retries off but configured',
    'VirtualService',
    vs([route({ retries: { attempts: 0, retryOn: '5xx' } })]),
    [
      'spec.http[0].retries.attempts: attempts is 0, so retries are off and the rest of this policy is ignored',
    ],
  ],
  [
    'TCP service entry port without addresses',
    'ServiceEntry',
    { hosts: ['db.example.com'], ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }], resolution: 'DNS' },
    [
      'spec.ports[0]: TCP ports need addresses to be told apart from other services on port 5432; set spec.addresses',
    ],
  ],
];

for (const [name, kind, spec, want] of WARNED) {
  test(`warned ${kind}: ${name}`, () => {
    assert.deepEqual(errorsOf(kind, spec), []);
    assert.deepEqual(warningsOf(kind, spec), want);
  });
}
