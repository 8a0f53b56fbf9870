// Validation agreeing with Istio (pkg/config/validation and the CRD schemas), one row per rule:
// what Istio accepts is accepted, an Istio warning is a warning here, an Istio rejection is an
// error. Inputs are written from the rules Istio documents, not copied from its tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';

interface Outcome {
  errors: string[];
  warnings: string[];
}

function outcome(kind: string, spec: unknown): Outcome {
  const problems = validateResource({
    apiVersion: 'networking.istio.io/v1',
    kind,
    metadata: { name: 't', namespace: 'default' },
    spec,
  });
  return {
    errors: problems.filter((p) => p.severity === 'error').map(formatProblem),
    warnings: problems.filter((p) => p.severity === 'warning').map(formatProblem),
  };
}

const dr = (trafficPolicy: unknown, extra: object = {}) => ({ host: 'reviews', trafficPolicy, ...extra });
const lb = (loadBalancer: unknown) => dr({ loadBalancer });
const pool = (connectionPool: unknown) => dr({ connectionPool });
const se = (extra: object) => ({
  hosts: ['api.example.com'],
  ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }],
  resolution: 'DNS',
  ...extra,
});
const vs = (http: unknown[], extra: object = {}) => ({ hosts: ['reviews'], http, ...extra });
const gw = (tls: object) => ({
  selector: { istio: 'ingressgateway' },
  servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*.example.com'], tls }],
});
const NOT_APPLIED = 'accepted but not applied yet: ';
const NO_SLOW_START = `${NOT_APPLIED}the Trellis proxy has no slow start; new endpoints get their full share at once`;

// [rule, kind, spec, errors, warnings]
const ROWS: [string, string, unknown, string[], string[]][] = [
  // --- DestinationRule: fields Istio's CRD accepts -------------------------------------------
  [
    'DR workloadSelector.matchLabels',
    'DestinationRule',
    { host: 'r', workloadSelector: { matchLabels: { app: 'r' } } },
    [],
    [],
  ],
  [
    'DR workloadSelector.labels (Trellis spelling) warns',
    'DestinationRule',
    { host: 'r', workloadSelector: { labels: { app: 'r' } } },
    [],
    [
      'spec.workloadSelector.labels: a DestinationRule selects with matchLabels; Istio rejects labels here, so rename it for istioctl',
    ],
  ],
  [
    'DR empty workloadSelector warns',
    'DestinationRule',
    { host: 'r', workloadSelector: {} },
    [],
    ['spec.workloadSelector: workload selector without labels: it selects every workload in the namespace'],
  ],
  [
    'DR selector label with a wildcard',
    'DestinationRule',
    { host: 'r', workloadSelector: { matchLabels: { app: 'r*' } } },
    [
      `spec.workloadSelector.matchLabels.app: label value "r*" is invalid: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    ],
    [],
  ],
  [
    'DR with selector exported everywhere',
    'DestinationRule',
    { host: 'r', workloadSelector: { matchLabels: { app: 'r' } }, exportTo: ['*'] },
    [
      'spec.exportTo: a DestinationRule with a workloadSelector cannot be exported beyond its own namespace; use "."',
    ],
    [],
  ],
  [
    'DR with selector exported to its own namespace',
    'DestinationRule',
    { host: 'r', workloadSelector: { matchLabels: { app: 'r' } }, exportTo: ['.'] },
    [],
    [],
  ],
  ['loadBalancer with neither simple nor consistentHash', 'DestinationRule', lb({}), [], []],
  [
    'loadBalancer.warmup',
    'DestinationRule',
    lb({ simple: 'ROUND_ROBIN', warmup: { duration: '60s', minimumPercent: 10, aggression: 1.5 } }),
    [],
    [`spec.trafficPolicy.loadBalancer.warmup: ${NO_SLOW_START}`],
  ],
  [
    'loadBalancer.warmup without duration, aggression 0',
    'DestinationRule',
    lb({ warmup: { aggression: 0 } }),
    [
      'spec.trafficPolicy.loadBalancer.warmup.duration: required',
      'spec.trafficPolicy.loadBalancer.warmup.aggression: must be greater than 0',
    ],
    [`spec.trafficPolicy.loadBalancer.warmup: ${NO_SLOW_START}`],
  ],
  [
    'loadBalancer.warmup minimumPercent over 100',
    'DestinationRule',
    lb({ warmup: { duration: '1s', minimumPercent: 101 } }),
    ['spec.trafficPolicy.loadBalancer.warmup.minimumPercent: 101 is out of range; expected 0..100'],
    [`spec.trafficPolicy.loadBalancer.warmup: ${NO_SLOW_START}`],
  ],
  [
    'warmupDurationSecs is not silently ignored',
    'DestinationRule',
    lb({ warmupDurationSecs: '30s' }),
    [],
    [`spec.trafficPolicy.loadBalancer.warmupDurationSecs: ${NO_SLOW_START}`],
  ],
  [
    'localityLbSetting and zoneAwareLbSetting together',
    'DestinationRule',
    lb({ localityLbSetting: { enabled: true }, zoneAwareLbSetting: { enabled: true } }),
    ['spec.trafficPolicy.loadBalancer: only one of localityLbSetting, zoneAwareLbSetting may be set'],
    [
      `spec.trafficPolicy.loadBalancer.zoneAwareLbSetting: ${NOT_APPLIED}Trellis balances by localityLbSetting only; use it for locality-aware routing`,
    ],
  ],
  [
    'minimumRingSize with maglev',
    'DestinationRule',
    lb({ consistentHash: { useSourceIp: true, minimumRingSize: 1024, maglev: { tableSize: 65537 } } }),
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: cannot be combined with ringHash or maglev',
    ],
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: deprecated; use ringHash.minimumRingSize instead',
    ],
  ],
  [
    'httpCookie.attributes: duplicate and empty names',
    'DestinationRule',
    lb({
      consistentHash: {
        httpCookie: {
          name: 'c',
          ttl: '0s',
          attributes: [{ name: 'SameSite', value: 'Lax' }, { name: 'SameSite' }, { name: '' }],
        },
      },
    }),
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1].name: duplicate cookie attribute "SameSite"',
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[2].name: required; must not be empty',
    ],
    [
      `spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes: ${NOT_APPLIED}the generated cookie carries only its name, path and ttl`,
    ],
  ],
  [
    'connectionPool.http.http2KeepAlive',
    'DestinationRule',
    pool({ http: { http2KeepAlive: { interval: '30s', timeout: '10s' } } }),
    [],
    [
      `spec.trafficPolicy.connectionPool.http.http2KeepAlive: ${NOT_APPLIED}the Trellis proxy sends no HTTP/2 PINGs on upstream connections`,
    ],
  ],
  [
    'http2KeepAlive needs interval and timeout',
    'DestinationRule',
    pool({ http: { http2KeepAlive: {} } }),
    [
      'spec.trafficPolicy.connectionPool.http.http2KeepAlive.interval: required',
      'spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout: required',
    ],
    [
      `spec.trafficPolicy.connectionPool.http.http2KeepAlive: ${NOT_APPLIED}the Trellis proxy sends no HTTP/2 PINGs on upstream connections`,
    ],
  ],
  [
    'useClientProtocol with h2UpgradePolicy UPGRADE',
    'DestinationRule',
    pool({ http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } }),
    [
      'spec.trafficPolicy.connectionPool.http.useClientProtocol: must not be true when h2UpgradePolicy is UPGRADE',
    ],
    [],
  ],
  ['tcp.idleTimeout 0s turns it off', 'DestinationRule', pool({ tcp: { idleTimeout: '0s' } }), [], []],
  [
    'consecutiveLocalOriginFailures without splitExternalLocalOriginErrors',
    'DestinationRule',
    dr({ outlierDetection: { consecutiveLocalOriginFailures: 3 } }),
    [
      'spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures: needs splitExternalLocalOriginErrors: true (as Istio requires)',
    ],
    [],
  ],
  [
    'outlierDetectionHttpErrorCodes',
    'DestinationRule',
    dr({ outlierDetection: { outlierDetectionHttpErrorCodes: [503, 700] } }),
    [
      'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[1]: expected an HTTP status code 100..599',
    ],
    [
      `spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes: ${NOT_APPLIED}the Trellis proxy counts 5xx and gateway errors only (consecutive5xxErrors, consecutiveGatewayErrors)`,
    ],
  ],
  [
    'trafficPolicy.retryBudget alone is a policy',
    'DestinationRule',
    dr({ retryBudget: { percent: 25, minRetryConcurrency: 2 } }),
    [],
    [
      `spec.trafficPolicy.retryBudget: ${NOT_APPLIED}Trellis's default retry budget applies; set it with the DestinationRule annotation trellis.io/retry-budget`,
    ],
  ],
  [
    'tunnel and proxyProtocol together',
    'DestinationRule',
    dr({ tunnel: { targetHost: 'h', targetPort: 8080 }, proxyProtocol: { version: 'V2' } }),
    [
      'spec.trafficPolicy: tunnel and proxyProtocol cannot both be set',
      'spec.trafficPolicy.tunnel: not supported by the Trellis proxy; remove it (traffic would otherwise reach the destination differently than written)',
      'spec.trafficPolicy.proxyProtocol: not supported by the Trellis proxy; remove it (traffic would otherwise reach the destination differently than written)',
    ],
    [],
  ],
  ['DR partial wildcard host (Istio accepts)', 'DestinationRule', { host: '*bar.example.com' }, [], []],
  // --- ServiceEntry ----------------------------------------------------------------------------
  [
    'port without protocol, named by protocol',
    'ServiceEntry',
    se({ ports: [{ number: 8080, name: 'http-api' }] }),
    [],
    [],
  ],
  [
    'port without protocol or protocol name (Istio sniffs)',
    'ServiceEntry',
    se({ addresses: ['10.1.1.1'], ports: [{ number: 9000, name: 'api' }] }),
    [],
    [
      'spec.ports[0].protocol: unset and the port name has no protocol prefix: Istio detects the protocol from the traffic, Trellis serves the port as TCP; set protocol (HTTP, GRPC, TLS...) or name the port http-..., grpc-...',
    ],
  ],
  [
    'partial wildcard host warns',
    'ServiceEntry',
    se({ hosts: ['*api.example.com'], resolution: 'NONE' }),
    [],
    [
      'spec.hosts[0]: partial wildcard "*api.example.com" matches every host ending in "api.example.com"; Istio warns about it too',
    ],
  ],
  [
    'empty workloadSelector warns',
    'ServiceEntry',
    se({ resolution: 'STATIC', workloadSelector: {} }),
    [],
    ['spec.workloadSelector: workload selector without labels: it selects every workload in the namespace'],
  ],
  [
    'CIDR address with DNS resolution',
    'ServiceEntry',
    se({ addresses: ['10.0.0.0/16'] }),
    [
      'spec.addresses[0]: CIDR addresses need resolution NONE or STATIC, not DNS; give single IP addresses or change resolution',
    ],
    [],
  ],
  [
    'resolution DYNAMIC_DNS is refused with what to do',
    'ServiceEntry',
    se({ hosts: ['*.example.com'], resolution: 'DYNAMIC_DNS' }),
    [
      'spec.resolution: DYNAMIC_DNS is not supported by Trellis yet; use resolution NONE, or list the hosts with resolution DNS (a Sidecar or mesh outboundTrafficPolicy ALLOW_ANY reaches other hosts through the dynamic forward proxy)',
    ],
    [],
  ],
  [
    'CIDR address with resolution NONE',
    'ServiceEntry',
    se({ addresses: ['10.0.0.0/16'], resolution: 'NONE' }),
    [],
    [],
  ],
  [
    'several hosts on a TCP port need resolution NONE',
    'ServiceEntry',
    se({
      hosts: ['a.example.com', 'b.example.com'],
      addresses: ['10.0.0.1'],
      ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }],
    }),
    [
      'spec.hosts: several hosts with a non-HTTP, non-TLS port need resolution NONE; split them into one ServiceEntry per host',
    ],
    [],
  ],
  [
    'workloadSelector with resolution NONE',
    'ServiceEntry',
    se({ resolution: 'NONE', workloadSelector: { labels: { app: 'a' } } }),
    [],
    ['spec.workloadSelector: has no effect with resolution NONE'],
  ],
  [
    'unix:// endpoint that is not absolute',
    'ServiceEntry',
    se({
      resolution: 'STATIC',
      ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      endpoints: [{ address: 'unix://run/app.sock' }],
    }),
    [
      'spec.endpoints[0].address: unix://run/app.sock: expected an absolute path to a socket file (unix:///path) or an abstract socket (unix://@name)',
    ],
    [],
  ],
  [
    'unix:// abstract socket',
    'ServiceEntry',
    se({
      resolution: 'STATIC',
      ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
      endpoints: [{ address: 'unix://@app' }],
    }),
    [],
    [],
  ],
  // --- WorkloadEntry ---------------------------------------------------------------------------
  [
    'unix:// address ending in /',
    'WorkloadEntry',
    { address: 'unix:///run/' },
    [
      'spec.address: unix:///run/: expected an absolute path to a socket file (unix:///path) or an abstract socket (unix://@name)',
    ],
    [],
  ],
  ['unix:// absolute address', 'WorkloadEntry', { address: 'unix:///run/app.sock' }, [], []],
  [
    'no address, with a network, warns',
    'WorkloadEntry',
    { network: 'vm-net' },
    [],
    ['spec.address: unset: the workload is reached through network "vm-net"\'s gateway'],
  ],
  [
    'port name must be a DNS label',
    'WorkloadEntry',
    { address: '10.0.0.1', ports: { HTTP_Port: 8080 } },
    [
      `spec.ports.HTTP_Port: "HTTP_Port" is not a valid DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`,
    ],
    [],
  ],
  // --- Sidecar ---------------------------------------------------------------------------------
  [
    'a Sidecar with only a selector',
    'Sidecar',
    { workloadSelector: { labels: { app: 'a' } } },
    [
      'spec: a Sidecar needs at least one of ingress, egress, outboundTrafficPolicy, inboundConnectionPool (Istio rejects an empty one)',
    ],
    [],
  ],
  [
    'Sidecar empty workloadSelector warns',
    'Sidecar',
    { workloadSelector: {}, egress: [{ hosts: ['./*'] }] },
    [],
    ['spec.workloadSelector: workload selector without labels: it selects every workload in the namespace'],
  ],
  [
    'Sidecar egress partial wildcard host',
    'Sidecar',
    { egress: [{ hosts: ['*/*x.example.com'] }] },
    [
      'spec.egress[0].hosts[0]: "*/*x.example.com": partial wildcard "*x.example.com" is not allowed here; use "*" or "*.domain"',
    ],
    [],
  ],
  [
    'Sidecar egress short name',
    'Sidecar',
    { egress: [{ hosts: ['./reviews'] }] },
    [
      'spec.egress[0].hosts[0]: "./reviews": short name "reviews" is not allowed here; give the full name, e.g. reviews.NAMESPACE.svc.cluster.local',
    ],
    [],
  ],
  [
    'Sidecar defaultEndpoint unix:// not absolute',
    'Sidecar',
    {
      ingress: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, defaultEndpoint: 'unix://app.sock' }],
    },
    [
      'spec.ingress[0].defaultEndpoint: unix://app.sock: expected an absolute path to a socket file (unix:///path) or an abstract socket (unix://@name)',
    ],
    [],
  ],
  [
    'Sidecar ingress TLS: no mesh modes, no Secrets, no SANs, no redirect',
    'Sidecar',
    {
      ingress: [
        {
          port: { number: 8443, name: 'https', protocol: 'HTTPS' },
          defaultEndpoint: '127.0.0.1:8080',
          tls: { mode: 'ISTIO_MUTUAL', credentialName: 'c', subjectAltNames: ['a'], httpsRedirect: true },
        },
      ],
    },
    [
      'spec.ingress[0].tls.credentialName: cannot be set in ISTIO_MUTUAL mode; the mesh provides certificates',
      'spec.ingress[0].tls.subjectAltNames: not supported in a Sidecar ingress listener',
      'spec.ingress[0].tls.credentialName: not supported in a Sidecar ingress listener; give serverCertificate and privateKey',
      'spec.ingress[0].tls.httpsRedirect: not supported in a Sidecar ingress listener',
      'spec.ingress[0].tls.mode: ISTIO_MUTUAL is not allowed in a Sidecar ingress listener; mesh mTLS is set by PeerAuthentication',
    ],
    [],
  ],
  [
    'Sidecar egressProxy without port',
    'Sidecar',
    { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'proxy.example.com' } } },
    ['spec.outboundTrafficPolicy.egressProxy.port: required: the port of the egress proxy'],
    [],
  ],
  // --- Gateway --------------------------------------------------------------------------------
  [
    'server TLS fields Trellis does not apply: stricter without them',
    'Gateway',
    gw({ mode: 'MUTUAL', credentialName: 'c', insecureSkipVerify: true, ecdhCurves: ['P-256'] }),
    [],
    [
      'spec.servers[0].tls.insecureSkipVerify: accepted but not applied yet: client certificates are still verified against the CA',
      "spec.servers[0].tls.ecdhCurves: accepted but not applied yet: the proxy's default curves apply",
    ],
  ],
  [
    'server TLS fields Trellis cannot serve without',
    'Gateway',
    gw({
      mode: 'MUTUAL',
      credentialName: 'c',
      caCertCredentialName: 'ca',
      tlsCertificates: [{ serverCertificate: '/c.pem', privateKey: '/k.pem' }],
    }),
    [
      'spec.servers[0].tls.caCertCredentialName: not supported by Trellis yet: put the client CA in the credentialName Secret (ca.crt) instead',
      'spec.servers[0].tls.tlsCertificates: not supported by Trellis yet: give one certificate with serverCertificate/privateKey, or several with credentialNames',
      'spec.servers[0].tls: only one certificate source may be set; found credentialName, tlsCertificates',
    ],
    [],
  ],
  [
    'one certificate source',
    'Gateway',
    gw({ mode: 'SIMPLE', credentialName: 'a', serverCertificate: '/c.pem', privateKey: '/k.pem' }),
    [
      'spec.servers[0].tls: only one certificate source may be set; found serverCertificate/privateKey, credentialName',
    ],
    [],
  ],
  [
    'ISTIO_MUTUAL takes no certificates',
    'Gateway',
    gw({ mode: 'ISTIO_MUTUAL', credentialNames: ['a'] }),
    [
      'spec.servers[0].tls.credentialNames: cannot be set in ISTIO_MUTUAL mode; the mesh provides certificates',
    ],
    [],
  ],
  [
    'PASSTHROUGH ignores certificates, with a warning',
    'Gateway',
    gw({ mode: 'PASSTHROUGH', credentialName: 'a' }),
    [],
    ['spec.servers[0].tls: PASSTHROUGH does not terminate TLS: credentialName ignored'],
  ],
  [
    'caCrl with credentialName, caCrl with SIMPLE',
    'Gateway',
    {
      servers: [
        {
          port: { number: 443, name: 'a', protocol: 'HTTPS' },
          hosts: ['a.example.com'],
          tls: { mode: 'MUTUAL', credentialName: 'c', caCrl: '/crl.pem' },
        },
        {
          port: { number: 444, name: 'b', protocol: 'HTTPS' },
          hosts: ['b.example.com'],
          tls: { mode: 'SIMPLE', serverCertificate: '/c.pem', privateKey: '/k.pem', caCrl: '/crl.pem' },
        },
      ],
    },
    [
      'spec.servers[0].tls.caCrl: cannot be combined with credentialName; put the CRL in the credential Secret instead',
      'spec.servers[1].tls.caCrl: not used with SIMPLE TLS (no client certificates); remove it',
    ],
    [],
  ],
  [
    'TLS 1.0 without cipher suites warns',
    'Gateway',
    gw({ mode: 'SIMPLE', credentialName: 'a', minProtocolVersion: 'TLSV1_0' }),
    [],
    [
      'spec.servers[0].tls.minProtocolVersion: TLSV1_0 needs cipherSuites that version supports; the default suites are for TLS 1.2 and 1.3',
    ],
  ],
  // --- VirtualService --------------------------------------------------------------------------
  [
    ':authority in headers.request.set, route and destination level',
    'VirtualService',
    vs([
      {
        headers: { request: { set: { ':authority': 'a.example.com' } } },
        route: [
          {
            destination: { host: 'reviews' },
            headers: { request: { set: { ':authority': 'b.example.com' } } },
          },
        ],
      },
    ]),
    [],
    [],
  ],
  [
    ':authority per destination of a split warns',
    'VirtualService',
    vs([
      {
        route: [
          {
            destination: { host: 'a' },
            weight: 50,
            headers: { request: { set: { ':authority': 'a.example.com' } } },
          },
          { destination: { host: 'b' }, weight: 50 },
        ],
      },
    ]),
    [],
    [
      "spec.http[0].route[0].headers.request: accepted but not applied yet: :authority per destination of a weighted split (Trellis rewrites the host per route); set it in the route's headers.request.set",
    ],
  ],
  [
    'other pseudo-headers and Host mutations are rejected',
    'VirtualService',
    vs([
      {
        headers: { request: { set: { ':path': '/x' }, remove: ['host'] }, response: { set: { host: 'x' } } },
        route: [{ destination: { host: 'reviews' } }],
      },
    ]),
    [
      'spec.http[0].headers.request.set.:path: header ":path": pseudo-headers cannot be used here',
      'spec.http[0].headers.request.remove[0]: the Host header cannot be removed or set on responses; to change it, set :authority in headers.request.set',
      'spec.http[0].headers.response.set.host: the Host header cannot be removed or set on responses; to change it, set :authority in headers.request.set',
    ],
    [],
  ],
  [
    'redirect.prefixRewrite with prefix matches',
    'VirtualService',
    vs([{ match: [{ uri: { prefix: '/old' } }], redirect: { prefixRewrite: '/new' } }]),
    [],
    [],
  ],
  [
    'redirect.prefixRewrite with uri, with an exact match, and an unknown scheme',
    'VirtualService',
    vs([
      { match: [{ uri: { exact: '/old' } }], redirect: { uri: '/a', prefixRewrite: '/new', scheme: 'ftp' } },
    ]),
    [
      'spec.http[0].redirect: only one of uri, prefixRewrite may be set; found uri, prefixRewrite',
      'spec.http[0].redirect.prefixRewrite: needs every uri match of the route to be a prefix match',
      'spec.http[0].redirect.scheme: "ftp": expected http or https',
    ],
    [],
  ],
  [
    '@request.auth.claims header match at a gateway',
    'VirtualService',
    vs(
      [
        {
          match: [{ headers: { '@request.auth.claims.group': { exact: 'admin' } } }],
          route: [{ destination: { host: 'reviews' } }],
        },
      ],
      {
        hosts: ['reviews.example.com'],
        gateways: ['ingress'],
      },
    ),
    [],
    [],
  ],
];

for (const [rule, kind, spec, errors, warnings] of ROWS) {
  test(`Istio parity, ${kind}: ${rule}`, () => {
    assert.deepEqual(outcome(kind, spec), { errors, warnings });
  });
}
