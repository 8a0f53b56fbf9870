import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Problems } from '../../core/errors.js';
import type { RouteConfiguration__Output, Route__Output } from '../../protocol/envoy-types.js';
import type { ForwardAction } from './config.js';
import { convertRouteConfiguration } from './convert-route.js';

function convert(route: Route__Output) {
  const problems = new Problems();
  const msg: RouteConfiguration__Output = {
    name: 'rc',
    virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [route] }],
  };
  const table = convertRouteConfiguration(msg, 'rc', problems);
  return {
    problems: problems.items,
    action: table?.virtualHosts[0]?.routes[0]?.action as ForwardAction | undefined,
  };
}

const weighted = {
  weighted_clusters: {
    clusters: [
      { name: 'a', weight: { value: 90 } },
      { name: 'b', weight: { value: 10 } },
    ],
  },
};

function withMetadata(fields: Record<string, unknown>, key = 'trellis.sticky_canary'): Route__Output {
  return {
    match: { prefix: '/' },
    route: weighted,
    metadata: { filter_metadata: { [key]: { fields } } },
  } as unknown as Route__Output;
}

test('route metadata trellis.sticky_canary becomes the route sticky key', () => {
  assert.deepEqual(convert(withMetadata({ header: { stringValue: 'X-User' } })).action?.sticky, {
    header: 'x-user',
  });
  assert.deepEqual(convert(withMetadata({ cookie: { stringValue: 'user' } })).action?.sticky, {
    cookie: 'user',
  });
  // Metadata for other readers is not ours to judge.
  const other = convert(withMetadata({ anything: { numberValue: 1 } }, 'istio'));
  assert.deepEqual(other.problems, []);
  assert.equal(other.action?.sticky, undefined);
});

test('malformed sticky metadata NACKs the route config, naming the field', () => {
  const rows: [Record<string, unknown>, string][] = [
    [{}, 'rc.virtual_hosts[0].routes[0].metadata.filter_metadata["trellis.sticky_canary"]'],
    [
      { header: { numberValue: 3 } },
      'rc.virtual_hosts[0].routes[0].metadata.filter_metadata["trellis.sticky_canary"].header',
    ],
    [
      { header: { stringValue: 'a' }, cookie: { stringValue: 'b' } },
      'rc.virtual_hosts[0].routes[0].metadata.filter_metadata["trellis.sticky_canary"]',
    ],
  ];
  for (const [fields, path] of rows) {
    const { problems, action } = convert(withMetadata(fields));
    assert.equal(action, undefined, JSON.stringify(fields));
    assert.deepEqual(
      problems.map((p) => [p.severity, p.path]),
      [['error', path]],
      JSON.stringify(fields),
    );
  }
});
