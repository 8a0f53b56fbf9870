// The TrafficPolicy fields Istio accepts and Trellis does not apply yet: every sub-field is
// checked as Istio's CRD and validation check it (types, ranges, unknown fields), and each field
// that is set carries its "not applied yet" warning; an empty list sets nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem } from '../../core/errors.js';
import { validateResource } from '../validate.js';

// [rule, trafficPolicy, errors, warnings]
const ROWS: [string, unknown, string[], string[]][] = [
  [
    'warmup and warmupDurationSecs together',
    { loadBalancer: { warmup: { duration: '1s' }, warmupDurationSecs: '1s' } },
    ['spec.trafficPolicy.loadBalancer: only one of warmup, warmupDurationSecs may be set'],
    [
      'spec.trafficPolicy.loadBalancer.warmupDurationSecs: accepted but not applied yet: the Trellis proxy has no slow start; new endpoints get their full share at once',
      'spec.trafficPolicy.loadBalancer.warmup: accepted but not applied yet: the Trellis proxy has no slow start; new endpoints get their full share at once',
    ],
  ],
  [
    'warmupDurationSecs not a duration',
    { loadBalancer: { warmupDurationSecs: 'soon' } },
    [
      'spec.trafficPolicy.loadBalancer.warmupDurationSecs: invalid duration "soon": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
    ],
    [
      'spec.trafficPolicy.loadBalancer.warmupDurationSecs: accepted but not applied yet: the Trellis proxy has no slow start; new endpoints get their full share at once',
    ],
  ],
  [
    'warmup unknown field',
    { loadBalancer: { warmup: { duration: '1s', ramp: 2 } } },
    [
      'spec.trafficPolicy.loadBalancer.warmup.ramp: unknown field; allowed: duration, minimumPercent, aggression',
    ],
    [
      'spec.trafficPolicy.loadBalancer.warmup: accepted but not applied yet: the Trellis proxy has no slow start; new endpoints get their full share at once',
    ],
  ],
  [
    'zoneAware fields',
    {
      loadBalancer: {
        zoneAwareLbSetting: {
          enabled: 'yes',
          failover: [{ from: 'a' }, { to: 'b', via: 'c' }],
          failoverPriority: ['!topology.kubernetes.io/zone', 'bad key=x'],
          minClusterSize: 0,
        },
      },
    },
    [
      'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.enabled: expected true or false, got the string "yes"',
      'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failover[0].to: required',
      'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failover[1].via: unknown field; allowed: from, to',
      'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failover[1].from: required',
      "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failoverPriority[1]: label key \"bad key\" is invalid: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
      'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.minClusterSize: 0 is out of range; expected >= 1',
    ],
    [
      'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting: accepted but not applied yet: Trellis balances by localityLbSetting only; use it for locality-aware routing',
    ],
  ],
  [
    'backendUtilization fields',
    {
      loadBalancer: {
        backendUtilization: {
          errorUtilizationPenaltyPercent: -1,
          metricNamesForComputingUtilization: [1],
          weightExpirationPeriod: '0s',
          weightStabilizationPeriod: 'x',
          weightUpdatePeriod: '1s',
          extra: 1,
        },
      },
    },
    [
      'spec.trafficPolicy.loadBalancer.backendUtilization.extra: unknown field; allowed: errorUtilizationPenaltyPercent, metricNamesForComputingUtilization, weightExpirationPeriod, weightStabilizationPeriod, weightUpdatePeriod',
      'spec.trafficPolicy.loadBalancer.backendUtilization.errorUtilizationPenaltyPercent: -1 is out of range; expected >= 0',
      'spec.trafficPolicy.loadBalancer.backendUtilization.metricNamesForComputingUtilization[0]: expected a string, got the number 1',
      'spec.trafficPolicy.loadBalancer.backendUtilization.weightStabilizationPeriod: invalid duration "x": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
    ],
    [
      'spec.trafficPolicy.loadBalancer.backendUtilization: accepted but not applied yet: the Trellis proxy does not read backend load reports; the simple balancer applies',
    ],
  ],
  [
    'cookie attributes empty list',
    { loadBalancer: { consistentHash: { httpCookie: { name: 'c', ttl: '1s', attributes: [] } } } },
    [],
    [],
  ],
  [
    'cookie attribute value type',
    {
      loadBalancer: {
        consistentHash: {
          httpCookie: { name: 'c', ttl: '1s', attributes: [{ name: 'Secure', value: 1 }, 'x'] },
        },
      },
    },
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].value: expected a string, got the number 1',
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1]: expected an object, got the string "x"',
    ],
    [
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes: accepted but not applied yet: the generated cookie carries only its name, path and ttl',
    ],
  ],
  [
    'error codes boundaries',
    { outlierDetection: { outlierDetectionHttpErrorCodes: [100, 599, 99, 600, '503', 502.5] } },
    [
      'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[2]: expected an HTTP status code 100..599',
      'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[3]: expected an HTTP status code 100..599',
      'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[4]: expected an HTTP status code 100..599',
      'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[5]: expected an HTTP status code 100..599',
    ],
    [
      'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes: accepted but not applied yet: the Trellis proxy counts 5xx and gateway errors only (consecutive5xxErrors, consecutiveGatewayErrors)',
    ],
  ],
  ['error codes empty list', { outlierDetection: { outlierDetectionHttpErrorCodes: [] } }, [], []],
  [
    'retry budget ranges',
    { retryBudget: { percent: 101, minRetryConcurrency: -1, budgetInterval: 'x', other: 1 } },
    [
      'spec.trafficPolicy.retryBudget.other: unknown field; allowed: percent, minRetryConcurrency, budgetInterval',
      'spec.trafficPolicy.retryBudget.percent: 101 is out of range; expected 0..100',
      'spec.trafficPolicy.retryBudget.minRetryConcurrency: -1 is out of range; expected >= 0',
      'spec.trafficPolicy.retryBudget.budgetInterval: invalid duration "x": expected a number with a unit (h, m, s, ms), e.g. "1.5s"',
    ],
    [
      "spec.trafficPolicy.retryBudget: accepted but not applied yet: Trellis's default retry budget applies; set it with the DestinationRule annotation trellis.io/retry-budget",
    ],
  ],
  [
    'http2KeepAlive unknown field and bad duration',
    { connectionPool: { http: { http2KeepAlive: { interval: '0s', timeout: '1s', probes: 3 } } } },
    [
      'spec.trafficPolicy.connectionPool.http.http2KeepAlive.probes: unknown field; allowed: interval, timeout',
      'spec.trafficPolicy.connectionPool.http.http2KeepAlive.interval: duration "0s" must be at least 1ms',
    ],
    [
      'spec.trafficPolicy.connectionPool.http.http2KeepAlive: accepted but not applied yet: the Trellis proxy sends no HTTP/2 PINGs on upstream connections',
    ],
  ],
];

for (const [rule, trafficPolicy, errors, warnings] of ROWS) {
  test(`traffic policy extras: ${rule}`, () => {
    const problems = validateResource({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 't', namespace: 'default' },
      spec: { host: 'r', trafficPolicy },
    });
    assert.deepEqual(
      {
        errors: problems.filter((p) => p.severity === 'error').map(formatProblem),
        warnings: problems.filter((p) => p.severity === 'warning').map(formatProblem),
      },
      { errors, warnings },
    );
  });
}
