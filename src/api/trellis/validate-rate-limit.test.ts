import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { parseAndValidate } from '../parse.js';
import { validateResource } from '../validate.js';

function errorsOf(spec: unknown, apiVersion = 'trellis.io/v1alpha1'): string[] {
  return validateResource({
    apiVersion,
    kind: 'RateLimit',
    metadata: { name: 'rl', namespace: 'shop' },
    spec,
  })
    .filter((p) => p.severity === 'error')
    .map(formatProblem);
}

const quota = { requests: 800, per: 'second' };
const spec = (limit: object, extra: object = {}) => ({
  hosts: ['page'],
  limits: [{ name: 'show', quota, ...limit }],
  ...extra,
});

test('the documented example parses from YAML without problems', () => {
  const docs = parseAndValidate(
    `apiVersion: trellis.io/v1alpha1
kind: RateLimit
metadata: { name: page-show, namespace: shop }
spec:
  hosts: [page.shop.svc.cluster.local]
  port: 80
  mode: global
  side: server
  shadow: false
  limits:
  - name: show
    match: { path: { exact: /Page.Show }, method: GET, headers: { x-tier: { exact: free }, x-present: {} } }
    quota: { requests: 800, per: second, burst: 1000 }
    perKey: { header: x-user-id }
`,
    'rl.yaml',
  );
  assert.equal(docs.length, 1);
  assert.deepEqual(docs[0]?.problems.map(formatProblem), []);
  assert.equal(docs[0]?.resource?.kind, 'RateLimit');
});

const VALID: [string, unknown][] = [
  ['minimal: a host and a quota', spec({})],
  [
    'local with burst and a prefix path',
    spec({ match: { path: { prefix: '/api/' } }, quota: { ...quota, burst: 800 } }),
  ],
  [
    'client side with sourceLabels',
    spec({ match: { sourceLabels: { app: 'web' }, sourceNamespace: 'web' } }, { side: 'client' }),
  ],
  [
    'global per source IP, hourly, shadow',
    spec(
      { perKey: { sourceIp: true }, quota: { requests: 5, per: 'hour' } },
      { mode: 'global', shadow: true },
    ),
  ],
  ['regex path', spec({ match: { path: { regex: '/users/[0-9]+' } } })],
];

for (const [name, s] of VALID) {
  test(`valid: ${name}`, () => assert.deepEqual(errorsOf(s), []));
}

const INVALID: [string, unknown, string[]][] = [
  [
    'hosts and limits are required',
    {},
    ['spec.hosts: required; must not be empty', 'spec.limits: required; must not be empty'],
  ],
  ['empty limits', { hosts: ['page'], limits: [] }, ['spec.limits: required; must not be empty']],
  [
    'failureMode is for global limits, open or closed',
    { ...spec({}), failureMode: 'closed' },
    ['spec.failureMode: only for mode: global (a local limit never calls the rate limit service)'],
  ],
  [
    'failureMode enum',
    { ...spec({}), mode: 'global', failureMode: 'deny' },
    ['spec.failureMode: "deny" is not valid; expected one of open, closed'],
  ],
  [
    'requests must be positive, per an enum',
    spec({ quota: { requests: 0, per: 'week' } }),
    [
      'spec.limits[0].quota.requests: 0 is out of range; expected 1..4294967295',
      'spec.limits[0].quota.per: "week" is not valid; expected one of second, minute, hour, day',
    ],
  ],
  ['quota required', { hosts: ['page'], limits: [{ name: 'a' }] }, ['spec.limits[0].quota: required']],
  [
    'burst below requests',
    spec({ quota: { requests: 10, per: 'minute', burst: 5 } }),
    ['spec.limits[0].quota.burst: 5 is less than requests (10); burst must be at least requests'],
  ],
  [
    'two path kinds at once',
    spec({ match: { path: { exact: '/a', prefix: '/b' } } }),
    ['spec.limits[0].match.path: exactly one of exact, prefix, regex may be set; found exact, prefix'],
  ],
  [
    'regex that RE2 refuses',
    spec({ match: { path: { regex: '(?=look)ahead' } } }),
    ['spec.limits[0].match.path.regex: invalid RE2 regex "(?=look)ahead": invalid perl operator: (?='],
  ],
  [
    'perKey with both header and sourceIp, in local mode',
    spec({ perKey: { header: 'x-user', sourceIp: true } }),
    [
      'spec.limits[0].perKey: only one of header, sourceIp may be set; found header, sourceIp',
      "spec.limits[0].perKey: needs mode: global: Envoy's local rate limit matches only descriptor values configured in advance, so it cannot keep one bucket per distinct value",
    ],
  ],
  [
    'perKey empty',
    spec({ perKey: {} }, { mode: 'global' }),
    ['spec.limits[0].perKey: exactly one of header, sourceIp is required'],
  ],
  [
    'mode and side enums',
    spec({}, { mode: 'cluster', side: 'both' }),
    [
      'spec.mode: "cluster" is not valid; expected one of local, global',
      'spec.side: "both" is not valid; expected one of server, client',
    ],
  ],
  [
    'duplicate limit names and a bad name',
    {
      hosts: ['page'],
      mode: 'global',
      limits: [
        { name: 'a', quota },
        { name: 'a', quota },
        { name: 'Big_One', quota },
      ],
    },
    [
      'spec.limits[1].name: duplicate limit name "a"',
      'spec.limits[2].name: "Big_One" is not a valid DNS-1123 label: lower-case letters, digits and \'-\', starting and ending with a letter or digit',
    ],
  ],
  [
    'two local host-wide limits',
    {
      hosts: ['page'],
      limits: [
        { name: 'a', quota },
        { name: 'b', quota, match: { sourceNamespace: 'x' } },
      ],
      side: 'client',
    },
    [
      'spec.limits[1]: only one local limit without path, method or headers may apply to a host (spec.limits[0] already does): Envoy keeps one local bucket per virtual host',
    ],
  ],
  [
    'sourceLabels on the server side',
    spec({ match: { sourceLabels: { app: 'web' } } }),
    [
      "spec.limits[0].match.sourceLabels: sourceLabels needs side: client: a server's proxy cannot tell which workload called",
    ],
  ],
  [
    'bad method, upper-case header, unknown field',
    spec({ match: { method: 'get', headers: { 'X-Tier': { exact: 'a' } }, uri: { exact: '/' } } }),
    [
      'spec.limits[0].match.uri: unknown field; allowed: path, method, headers, sourceLabels, sourceNamespace',
      'spec.limits[0].match.method: "get" is not an HTTP method; expected e.g. GET or POST',
      'spec.limits[0].match.headers.X-Tier: header names must be lower case',
    ],
  ],
  [
    'duplicate and invalid hosts, bad port',
    { hosts: ['page', 'page', 'a..b'], port: 70000, limits: [{ name: 'a', quota }] },
    [
      'spec.hosts[1]: duplicate host "page"',
      'spec.hosts[2]: host "a..b" is not a valid domain name: empty label; wildcards are allowed only as a leading \'*.\'',
      'spec.port: 70000 is out of range; expected 1..65535',
    ],
  ],
];

for (const [name, s, expected] of INVALID) {
  test(`invalid: ${name}`, () => assert.deepEqual(errorsOf(s), expected));
}

test('RateLimit exists only in trellis.io/v1alpha1', () => {
  assert.deepEqual(errorsOf(spec({}), 'trellis.io/v1'), [
    'apiVersion: RateLimit does not exist in version "v1" of trellis.io; expected one of trellis.io/v1alpha1',
  ]);
});
