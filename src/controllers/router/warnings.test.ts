import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unbranchedWarnings } from './warnings.js';

test('unbranchedWarnings: one warning per label set lacking the branch label, in a stable order', () => {
  const cases: [string, Record<string, string>[], string, string[]][] = [
    ['none', [], 'branch', []],
    ['all labelled', [{ branch: 'master' }, { branch: 'box-1', version: 'v1' }], 'branch', []],
    ['empty branch value still labelled', [{ branch: '' }], 'branch', []],
    [
      'one unlabelled',
      [{ version: 'v1', app: 'web' }],
      'branch',
      [
        '1 endpoint with labels {app=web,version=v1} lacks the label branch and is in no subset (no traffic reaches it): label production workloads branch: master',
      ],
    ],
    [
      'custom label, grouped and sorted',
      [{ version: 'v2' }, { version: 'v1' }, { version: 'v2' }, { lane: 'master' }],
      'lane',
      [
        '1 endpoint with labels {version=v1} lacks the label lane and is in no subset (no traffic reaches it): label production workloads lane: master',
        '2 endpoints with labels {version=v2} lack the label lane and are in no subset (no traffic reaches them): label production workloads lane: master',
      ],
    ],
  ];
  for (const [name, labels, branchLabel, want] of cases)
    assert.deepEqual(unbranchedWarnings(labels, branchLabel, 'master'), want, name);
});
