import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { parseAndValidate } from '../parse.js';
import { validateResource } from '../validate.js';
import { routerSubsetName } from './router.js';

function errorsOf(spec: unknown): string[] {
  return validateResource({
    apiVersion: 'trellis.io/v1alpha1',
    kind: 'Router',
    metadata: { name: 'web', namespace: 'shop' },
    spec,
  })
    .filter((p) => p.severity === 'error')
    .map(formatProblem);
}

test("the issue's Router parses as written, under Zhihu's group and under trellis.io", () => {
  for (const apiVersion of ['router.service-mesh.zhihu.com/v1', 'trellis.io/v1alpha1']) {
    const docs = parseAndValidate(
      `apiVersion: ${apiVersion}
kind: Router
metadata: { name: sm-verify-web, namespace: sm-verify }
spec:
  port: 9090
  protocol: http
  subsets:
  - branch: master          # production
    versions: { v1.0.1: 90, v1.0.2: 10 }   # 10% canary
  - branch: box-0999        # a sandbox
`,
      'router.yaml',
    );
    assert.deepEqual(docs[0]?.problems.map(formatProblem), [], apiVersion);
    assert.equal(docs[0]?.resource?.kind, 'Router');
    assert.equal(docs[0]?.resource?.apiVersion, apiVersion, 'kept as written');
  }
  const wrong = parseAndValidate(
    'apiVersion: router.service-mesh.zhihu.com/v2\nkind: Router\nmetadata: { name: x }\nspec: { port: 1, subsets: [{ branch: master }] }\n',
    'r.yaml',
  );
  assert.match(
    wrong[0]?.problems.map(formatProblem).join() ?? '',
    /expected one of router\.service-mesh\.zhihu\.com\/v1, trellis\.io\/v1alpha1/,
  );
});

test('Router validation: every problem with its field path', () => {
  const master = { branch: 'master', versions: { v1: 100 } };
  const cases: [string, unknown, RegExp[]][] = [
    ['valid', { port: 80, subsets: [master] }, []],
    ['port required', { subsets: [master] }, [/spec\.port: required/]],
    ['subsets required', { port: 80 }, [/spec\.subsets: required; must not be empty/]],
    [
      'weights must sum to 100',
      { port: 80, subsets: [{ branch: 'master', versions: { v1: 90, v2: 5 } }] },
      [/spec\.subsets\[0\]\.versions: weights sum to 95; they must sum to 100/],
    ],
    [
      'weights are whole numbers 0..100',
      { port: 80, subsets: [{ branch: 'master', versions: { v1: 50.5, v2: 49.5 } }] },
      [
        /spec\.subsets\[0\]\.versions\.v1: expected a whole-number weight from 0 to 100, got 50\.5/,
        /versions\.v2: expected a whole-number/,
      ],
    ],
    [
      'negative weight',
      { port: 80, subsets: [{ branch: 'master', versions: { v1: 110, v2: -10 } }] },
      [/v1: expected a whole-number/, /v2: expected a whole-number/],
    ],
    [
      'weight as a string',
      { port: 80, subsets: [{ branch: 'master', versions: { v1: '100' } }] },
      [/v1: expected a whole-number weight from 0 to 100, got "100"/],
    ],
    [
      'duplicate branches',
      { port: 80, subsets: [master, { branch: 'box-1' }, { branch: 'box-1' }] },
      [/spec\.subsets\[2\]\.branch: duplicate branch "box-1" \(first at spec\.subsets\[1\]\.branch\)/],
    ],
    [
      'the production branch must be listed',
      { port: 80, subsets: [{ branch: 'box-1' }] },
      [/spec\.subsets: the production branch "master" is not listed \(branches: "box-1"\)/],
    ],
    ['another production branch', { port: 80, productionBranch: 'main', subsets: [{ branch: 'main' }] }, []],
    [
      'an invalid branch',
      { port: 80, subsets: [master, { branch: 'Box 1' }] },
      [/spec\.subsets\[1\]\.branch: label value "Box 1" is invalid/],
    ],
    [
      'two versions making one subset name',
      { port: 80, subsets: [{ branch: 'master', versions: { 'v1.0': 50, 'v1-0': 50 } }] },
      [/versions\.v1-0: makes the subset name "master-v1-0", as spec\.subsets\[0\]\.versions\.v1\.0 does/],
    ],
    [
      'unknown protocol',
      { port: 80, protocol: 'udp', subsets: [master] },
      [/spec\.protocol: expected one of http, http2, grpc, tcp, got "udp"/],
    ],
    ['protocol in capitals', { port: 80, protocol: 'GRPC', subsets: [master] }, []],
    [
      'wildcard host',
      { port: 80, host: '*.shop', subsets: [master] },
      [/spec\.host: a Router names one service/],
    ],
    [
      'sticky needs one key',
      { port: 80, sticky: {}, subsets: [master] },
      [/spec\.sticky: set exactly one of header or cookie/],
    ],
    [
      'sticky with both',
      { port: 80, sticky: { header: 'x-user', cookie: 'u' }, subsets: [master] },
      [/spec\.sticky: set exactly one/],
    ],
    [
      'sticky header lower case',
      { port: 80, sticky: { header: 'X-User' }, subsets: [master] },
      [/spec\.sticky\.header: header names must be lower case/],
    ],
    [
      'sticky cookie token',
      { port: 80, sticky: { cookie: 'a b' }, subsets: [master] },
      [/spec\.sticky\.cookie: "a b" is not a cookie name/],
    ],
    ['rollout timeout', { port: 80, rolloutTimeout: 'soon', subsets: [master] }, [/spec\.rolloutTimeout/]],
    ['unknown field', { port: 80, branches: [], subsets: [master] }, [/spec\.branches/]],
    ['a label key', { port: 80, versionLabel: 'a b', subsets: [master] }, [/spec\.versionLabel/]],
  ];
  for (const [name, spec, want] of cases) {
    const errors = errorsOf(spec);
    assert.equal(errors.length, want.length, `${name}: ${errors.join('; ')}`);
    for (const re of want)
      assert.ok(
        errors.some((e) => re.test(e)),
        `${name}: ${re} in ${errors.join('; ')}`,
      );
  }
});

test('routerSubsetName makes DNS labels', () => {
  assert.equal(routerSubsetName('master', 'v1.0.1'), 'master-v1-0-1');
  assert.equal(routerSubsetName('box-0999'), 'box-0999');
  assert.equal(routerSubsetName('Master', 'V_2'), 'master-v-2');
});
