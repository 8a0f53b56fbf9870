// Sidecar and ServiceEntry rules of Istio's validation (pkg/config/validation: ValidateSidecar,
// ValidateServiceEntry) that istio-parity.test.ts did not cover yet, one row per rule: what
// Istio accepts is accepted, an Istio warning is a warning, an Istio rejection is an error.
// Also VirtualService `mirror_percent`, the proto name of mirrorPercent that protojson readers
// (istioctl, Istio's file source) accept. Inputs are written from the rules, not copied from
// Istio's tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';

function outcome(kind: string, spec: unknown): { errors: string[]; warnings: string[] } {
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

const ingress = (extra: object, port: object = { number: 9080, name: 'http', protocol: 'HTTP' }) => ({
  ingress: [{ port, defaultEndpoint: '127.0.0.1:8080', ...extra }],
});
const egress = (...listeners: object[]) => ({ egress: listeners });
const HTTP = (number: number, name = `http-${number}`) => ({ number, name, protocol: 'HTTP' });
const ENDPOINT_FORMS = 'expected 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT, :PORT or unix://PATH';
const se = (extra: object) => ({
  hosts: ['api.example.com'],
  ports: [{ number: 80, name: 'http', protocol: 'HTTP' }],
  resolution: 'STATIC',
  endpoints: [{ address: '10.0.0.1' }],
  ...extra,
});

// [rule, kind, spec, errors, warnings]
const ROWS: [string, string, unknown, string[], string[]][] = [
  // --- Sidecar ingress: defaultEndpoint is 127.0.0.1, 0.0.0.0, ::1, :: or empty, and a port ----
  ['defaultEndpoint :PORT (any local address)', 'Sidecar', ingress({ defaultEndpoint: ':8080' }), [], []],
  [
    'defaultEndpoint [::]:PORT and [::1]:PORT',
    'Sidecar',
    {
      ingress: [
        { port: HTTP(9080), defaultEndpoint: '[::]:8080' },
        { port: HTTP(9081), defaultEndpoint: '[::1]:8081' },
        { port: HTTP(9082), defaultEndpoint: '0.0.0.0:8082' },
      ],
    },
    [],
    [],
  ],
  [
    'defaultEndpoint port out of range or not a number',
    'Sidecar',
    {
      ingress: [
        { port: HTTP(9080), defaultEndpoint: '127.0.0.1:0' },
        { port: HTTP(9081), defaultEndpoint: '127.0.0.1:65536' },
        { port: HTTP(9082), defaultEndpoint: '127.0.0.1:http' },
      ],
    },
    [
      'spec.ingress[0].defaultEndpoint: "127.0.0.1:0": port 0 is out of range; expected 1..65535',
      'spec.ingress[1].defaultEndpoint: "127.0.0.1:65536": port 65536 is out of range; expected 1..65535',
      'spec.ingress[2].defaultEndpoint: "127.0.0.1:http": port "http" is not a number',
    ],
    [],
  ],
  [
    'defaultEndpoint on another host, or without port',
    'Sidecar',
    {
      ingress: [
        { port: HTTP(9080), defaultEndpoint: 'localhost:8080' },
        { port: HTTP(9081), defaultEndpoint: '10.0.0.1:8080' },
        { port: HTTP(9082), defaultEndpoint: '127.0.0.1' },
      ],
    },
    [
      `spec.ingress[0].defaultEndpoint: "localhost:8080": ${ENDPOINT_FORMS}`,
      `spec.ingress[1].defaultEndpoint: "10.0.0.1:8080": ${ENDPOINT_FORMS}`,
      `spec.ingress[2].defaultEndpoint: "127.0.0.1": ${ENDPOINT_FORMS}`,
    ],
    [],
  ],
  [
    'defaultEndpoint unix:// needs an absolute path',
    'Sidecar',
    ingress({ defaultEndpoint: 'unix://app.sock' }),
    [
      'spec.ingress[0].defaultEndpoint: unix://app.sock: expected an absolute path to a socket file (unix:///path) or an abstract socket (unix://@name)',
    ],
    [],
  ],
  // --- bind is an IP address ------------------------------------------------------------------
  [
    'bind: IPv4 and IPv6 addresses',
    'Sidecar',
    {
      ingress: [{ port: HTTP(9080), bind: '::1', defaultEndpoint: '127.0.0.1:8080' }],
      egress: [{ port: HTTP(80), bind: '127.0.0.2', hosts: ['*/api.example.com'] }],
    },
    [],
    [],
  ],
  [
    'bind that is not an IP address',
    'Sidecar',
    {
      ingress: [{ port: HTTP(9080), bind: 'localhost', defaultEndpoint: '127.0.0.1:8080' }],
      egress: [{ port: HTTP(80), bind: '10.0.0.300', hosts: ['*/api.example.com'] }],
    },
    [
      'spec.ingress[0].bind: "localhost" is not an IP address',
      'spec.egress[0].bind: "10.0.0.300" is not an IP address',
    ],
    [],
  ],
  // --- ports: names are DNS-1123 labels when set; egress ports unique ---------------------------
  [
    'port name, when set, is a DNS-1123 label',
    'Sidecar',
    egress(
      { port: { number: 80, protocol: 'HTTP' }, hosts: ['*/a.example.com'] },
      { port: { number: 81, name: 'Http_81', protocol: 'HTTP' }, hosts: ['*/b.example.com'] },
    ),
    [
      `spec.egress[1].port.name: "Http_81" is not a valid DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`,
    ],
    [],
  ],
  [
    'two egress listeners on one port',
    'Sidecar',
    egress(
      { port: HTTP(80), hosts: ['*/a.example.com'] },
      { port: HTTP(80, 'web'), hosts: ['*/b.example.com'] },
    ),
    [
      'spec.egress[1].port.number: port 80 already has an egress listener (ports of IP-bound listeners must be unique)',
    ],
    [],
  ],
  [
    'the same port in ingress and egress is fine',
    'Sidecar',
    { ...ingress({}, HTTP(80)), ...egress({ port: HTTP(80), hosts: ['*/a.example.com'] }) },
    [],
    [],
  ],
  // --- egress hosts: duplicates warn (Istio: "duplicated egress host") --------------------------
  [
    'a host named twice',
    'Sidecar',
    egress({ hosts: ['ns1/a.example.com', 'ns1/a.example.com', 'ns2/a.example.com'] }),
    [],
    ['spec.egress[0].hosts[1]: duplicated egress host "ns1/a.example.com"'],
  ],
  [
    'a host of a namespace already taken whole, and the other way round',
    'Sidecar',
    egress(
      { port: HTTP(80), hosts: ['ns2/a.example.com', 'ns2/*'] },
      { hosts: ['ns1/*', 'ns1/a.example.com'] },
    ),
    [],
    [
      'spec.egress[0].hosts[1]: duplicated egress host "ns2/*"',
      'spec.egress[1].hosts[1]: duplicated egress host "ns1/a.example.com"',
    ],
  ],
  [
    '*/* beside other hosts',
    'Sidecar',
    egress({ hosts: ['*/*', 'istio-system/*'] }),
    [],
    ['spec.egress[0].hosts: "*/*" selects every host already; the other hosts of this listener add nothing'],
  ],
  ['*/* alone', 'Sidecar', egress({ hosts: ['*/*'] }), [], []],
  // --- connection pools and outbound policy -----------------------------------------------------
  [
    'HTTP pool settings on a TCP ingress port warn',
    'Sidecar',
    ingress(
      { connectionPool: { tcp: { maxConnections: 10 }, http: { http1MaxPendingRequests: 5 } } },
      { number: 3306, name: 'tcp-db', protocol: 'TCP' },
    ),
    [],
    [
      'spec.ingress[0].connectionPool.http: port 3306 is TCP, not HTTP: only the tcp settings of this connection pool apply',
    ],
  ],
  [
    'HTTP pool settings on an HTTP ingress port',
    'Sidecar',
    ingress({ connectionPool: { http: { http1MaxPendingRequests: 5 } } }),
    [],
    [],
  ],
  [
    'ALLOW_ANY_DYNAMIC_DNS is a MeshConfig mode only',
    'Sidecar',
    { outboundTrafficPolicy: { mode: 'ALLOW_ANY_DYNAMIC_DNS' } },
    [
      'spec.outboundTrafficPolicy.mode: ALLOW_ANY_DYNAMIC_DNS is a mesh-wide mode (MeshConfig outboundTrafficPolicy), not a Sidecar one; use ALLOW_ANY or REGISTRY_ONLY',
    ],
    [],
  ],
  [
    'null listeners',
    'Sidecar',
    { ingress: [null], egress: [null] },
    [
      'spec.ingress[0]: an ingress listener may not be null',
      'spec.egress[0]: an egress listener may not be null',
    ],
    [],
  ],
  // --- ServiceEntry ------------------------------------------------------------------------------
  [
    'STATIC without endpoints is valid (a warning says calls fail until they exist)',
    'ServiceEntry',
    se({ addresses: ['172.1.2.16'], endpoints: undefined }),
    [],
    [
      'spec.resolution: STATIC without endpoints or a workloadSelector: calls to these hosts fail (503) until you add some',
    ],
  ],
  [
    'STATIC with a workloadSelector',
    'ServiceEntry',
    se({ endpoints: undefined, workloadSelector: { labels: { app: 'a' } } }),
    [],
    [],
  ],
  [
    'null ports and endpoints',
    'ServiceEntry',
    se({
      ports: [null, { number: 80, name: 'http', protocol: 'HTTP' }],
      endpoints: [null, { address: '10.0.0.1' }],
    }),
    ['spec.ports[0]: a port may not be null', 'spec.endpoints[0]: an endpoint may not be null'],
    [],
  ],
  [
    'the same targetPort on two ports',
    'ServiceEntry',
    se({
      ports: [
        { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
        { number: 81, name: 'http-alt', protocol: 'HTTP', targetPort: 8080 },
      ],
    }),
    [],
    [],
  ],
  // --- VirtualService: mirror_percent, the proto name of the deprecated mirrorPercent ---------
  [
    'mirror_percent is accepted with the deprecation warning',
    'VirtualService',
    {
      hosts: ['r'],
      http: [{ route: [{ destination: { host: 'r' } }], mirror: { host: 'm' }, mirror_percent: 50 }],
    },
    [],
    ['spec.http[0].mirror_percent: deprecated; use mirrorPercentage instead'],
  ],
  [
    'mirror_percent beside mirrorPercent, out of range, and without mirror',
    'VirtualService',
    {
      hosts: ['r'],
      http: [
        {
          route: [{ destination: { host: 'r' } }],
          mirror: { host: 'm' },
          mirror_percent: 50,
          mirrorPercent: 50,
        },
        { route: [{ destination: { host: 'r' } }], mirror: { host: 'm' }, mirror_percent: 101 },
        { route: [{ destination: { host: 'r' } }], mirror_percent: 5 },
      ],
    },
    [
      'spec.http[0].mirror_percent: mirror_percent is mirrorPercent under its proto name: set one of them (or mirrorPercentage)',
      'spec.http[1].mirror_percent: 101 is out of range; expected 0..100',
    ],
    [
      'spec.http[0].mirrorPercent: deprecated; use mirrorPercentage instead',
      'spec.http[0].mirror_percent: deprecated; use mirrorPercentage instead',
      'spec.http[1].mirror_percent: deprecated; use mirrorPercentage instead',
      'spec.http[2].mirror_percent: deprecated; use mirrorPercentage instead',
      'spec.http[2].mirror_percent: has no effect without mirror',
    ],
  ],
];

for (const [rule, kind, spec, errors, warnings] of ROWS) {
  test(`Istio parity, ${kind}: ${rule}`, () => {
    assert.deepEqual(outcome(kind, spec), { errors, warnings });
  });
}
