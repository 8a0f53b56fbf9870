// WorkloadGroup validation, one row per rule of Istio's ValidateWorkloadGroup and CRD schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';

function problems(spec: unknown): string[] {
  return validateResource({
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadGroup',
    metadata: { name: 'reviews', namespace: 'bookinfo' },
    spec,
  }).map((p) => `${p.severity}: ${formatProblem(p)}`);
}

const template = { labels: { app: 'reviews' }, serviceAccount: 'reviews', network: 'vm-net' };

const ROWS: [string, unknown, string[]][] = [
  [
    "Istio's documented example",
    {
      metadata: { labels: { app: 'reviews' }, annotations: { 'x.io/owner': 'team' } },
      template: { ports: { http: 9080 }, serviceAccount: 'default' },
      probe: {
        initialDelaySeconds: 5,
        timeoutSeconds: 3,
        periodSeconds: 4,
        successThreshold: 3,
        failureThreshold: 3,
        httpGet: {
          path: '/foo/bar',
          host: '127.0.0.1',
          port: 3100,
          scheme: 'HTTPS',
          httpHeaders: [{ name: 'Lit-Header', value: 'Im-The-Best' }],
        },
      },
    },
    [],
  ],
  ['template without address (no network warning: the workload fills it in)', { template }, []],
  ['template is required', { metadata: { labels: { app: 'a' } } }, ['error: spec.template: required']],
  [
    'bad metadata label',
    { metadata: { labels: { 'bad key': 'a' } }, template },
    [
      `error: spec.metadata.labels.bad key: label key "bad key" is invalid: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
    ],
  ],
  [
    'template port name',
    { template: { ports: { HTTP: 80 } } },
    [
      `error: spec.template.ports.HTTP: "HTTP" is not a valid DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`,
    ],
  ],
  [
    'template unix:// address must be absolute',
    { template: { address: 'unix://vm.sock' } },
    [
      'error: spec.template.address: unix://vm.sock: expected an absolute path to a socket file (unix:///path) or an abstract socket (unix://@name)',
    ],
  ],
  [
    'template unix:// address with ports',
    { template: { address: 'unix:///vm.sock', ports: { http: 80 } } },
    ['error: spec.template.ports.http: a unix:// endpoint cannot have ports'],
  ],
  [
    'probe needs a method',
    { template, probe: { periodSeconds: 5 } },
    ['error: spec.probe: exactly one of httpGet, tcpSocket, exec, grpc is required'],
  ],
  [
    'probe with two methods',
    { template, probe: { tcpSocket: { port: 80 }, exec: { command: ['true'] } } },
    ['error: spec.probe: only one of httpGet, tcpSocket, exec, grpc may be set; found tcpSocket, exec'],
  ],
  [
    'negative probe counts',
    { template, probe: { failureThreshold: -1, tcpSocket: { port: 80 } } },
    ['error: spec.probe.failureThreshold: -1 is out of range; expected >= 0'],
  ],
  [
    'httpGet port required, scheme HTTP or HTTPS',
    { template, probe: { httpGet: { scheme: 'FTP' } } },
    [
      'error: spec.probe.httpGet.port: required',
      'error: spec.probe.httpGet.scheme: "FTP": expected HTTP or HTTPS',
    ],
  ],
  [
    'tcpSocket port range',
    { template, probe: { tcpSocket: { port: 70000 } } },
    ['error: spec.probe.tcpSocket.port: 70000 is out of range; expected 1..65535'],
  ],
  [
    'exec command required',
    { template, probe: { exec: { command: [] } } },
    ['error: spec.probe.exec.command: required; must not be empty'],
  ],
  [
    'probe header names: letters, digits and - only',
    {
      template,
      probe: { httpGet: { port: 80, httpHeaders: [{ name: '**' }, { name: 'X-Ok-1', value: 'v' }] } },
    },
    [
      'error: spec.probe.httpGet.httpHeaders[0].name: "**": a probe header name has letters, digits and \'-\' only',
    ],
  ],
  ['grpc probe', { template, probe: { grpc: { port: 9090, service: 'health' } } }, []],
];

// Every field's type, and what each probe method requires.
const TYPED: [string, unknown, string[]][] = [
  [
    'metadata annotations must be strings',
    { metadata: { annotations: { a: 1 } }, template: { serviceAccount: 'sa' } },
    ['error: spec.metadata.annotations.a: expected a string, got the number 1'],
  ],
  [
    'httpGet field types',
    {
      template: { serviceAccount: 'sa' },
      probe: {
        httpGet: {
          path: 1,
          host: 2,
          port: 80,
          scheme: '',
          httpHeaders: [null, { value: 'v' }, { name: 'X-A', value: 3 }],
        },
      },
    },
    [
      'error: spec.probe.httpGet.path: expected a string, got the number 1',
      'error: spec.probe.httpGet.host: expected a string, got the number 2',
      'error: spec.probe.httpGet.httpHeaders[0]: expected a header { name, value }, got null',
      'error: spec.probe.httpGet.httpHeaders[1].name: required',
      'error: spec.probe.httpGet.httpHeaders[2].value: expected a string, got the number 3',
    ],
  ],
  [
    'httpGet scheme HTTP',
    { template: { serviceAccount: 'sa' }, probe: { httpGet: { port: 80, scheme: 'HTTP' } } },
    [],
  ],
  [
    'httpHeaders value with a newline',
    {
      template: { serviceAccount: 'sa' },
      probe: { httpGet: { port: 80, httpHeaders: [{ name: 'X-A', value: 'a\nb' }] } },
    },
    ['error: spec.probe.httpGet.httpHeaders[0].value: "a\\nb": must not contain NUL, CR or LF'],
  ],
  [
    'tcpSocket host type, port required',
    { template: { serviceAccount: 'sa' }, probe: { tcpSocket: { host: 1 } } },
    [
      'error: spec.probe.tcpSocket.host: expected a string, got the number 1',
      'error: spec.probe.tcpSocket.port: required',
    ],
  ],
  [
    'grpc port required, service type',
    { template: { serviceAccount: 'sa' }, probe: { grpc: { service: 2 } } },
    [
      'error: spec.probe.grpc.port: required',
      'error: spec.probe.grpc.service: expected a string, got the number 2',
    ],
  ],
  [
    'unknown probe field',
    { template: { serviceAccount: 'sa' }, probe: { tcpSocket: { port: 1 }, readiness: true } },
    [
      'error: spec.probe.readiness: unknown field; allowed: initialDelaySeconds, timeoutSeconds, periodSeconds, successThreshold, failureThreshold, httpGet, tcpSocket, exec, grpc',
    ],
  ],
  [
    'template unknown field',
    { template: { address: '10.0.0.1', zone: 'a' } },
    [
      'error: spec.template.zone: unknown field; allowed: address, ports, labels, network, locality, weight, serviceAccount',
    ],
  ],
  ['spec not an object', 'x', ['error: spec: expected an object, got the string "x"']],
];

for (const [rule, spec, want] of [...ROWS, ...TYPED]) {
  test(`WorkloadGroup: ${rule}`, () => {
    assert.deepEqual(problems(spec), want);
  });
}
