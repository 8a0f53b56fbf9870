import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalReplyReason } from './local-reply.js';
import {
  flagDownstreamDisconnect,
  flagLocalReply,
  flagResponseCut,
  flagRetriesExhausted,
  flagRetryOverflow,
  flagsText,
  flagTcpFailure,
  type ResponseFlag,
} from './response-flags.js';

const info = () => ({ flags: new Set<ResponseFlag>() });

// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage (%RESPONSE_FLAGS%)
test('each local reply earns its Envoy flag', () => {
  const cases: [LocalReplyReason, string][] = [
    [{ kind: 'no-route', authority: 'a', path: '/' }, 'NR'],
    [{ kind: 'no-cluster', cluster: 'c' }, 'NC'],
    [{ kind: 'no-healthy-upstream', cluster: 'c' }, 'UH'],
    [{ kind: 'connect-failure', cluster: 'c', detail: '' }, 'UF'],
    [{ kind: 'upstream-reset', cluster: 'c', detail: '' }, 'UR'],
    [{ kind: 'overflow', cluster: 'c' }, 'UO'],
    [{ kind: 'timeout' }, 'UT'],
    [{ kind: 'stream-idle-timeout', requestComplete: true }, 'SI'],
    [{ kind: 'retry-buffer-overflow' }, '-'],
    [{ kind: 'bad-request', detail: '' }, 'DPE'],
    [{ kind: 'fault-abort', status: 503 }, 'FI'],
    [{ kind: 'rate-limited', status: 429 }, 'RL'],
    [{ kind: 'rate-limit-service-error', detail: '' }, 'RLSE'],
    [{ kind: 'upgrade-refused', protocol: 'websocket' }, '-'],
    [{ kind: 'path-redirect', location: '/a' }, '-'],
  ];
  for (const [reason, want] of cases) {
    const i = info();
    flagLocalReply(i, reason);
    assert.equal(flagsText(i.flags), want, reason.kind);
  }
});

test('events on the data path earn their flags', () => {
  const cases: [(i: { flags: Set<ResponseFlag> }) => void, string][] = [
    [flagDownstreamDisconnect, 'DC'],
    [flagRetriesExhausted, 'URX'],
    [flagRetryOverflow, 'UO'],
    [(i) => flagResponseCut(i, 'route-timeout'), 'UT'],
    [(i) => flagResponseCut(i, 'stream-idle-timeout'), 'SI'],
    [(i) => flagResponseCut(i, 'upstream-reset'), 'UR'],
    [(i) => flagResponseCut(i, 'downstream-disconnect'), 'DC'],
    [(i) => flagTcpFailure(i, 'connect-failure'), 'UF'],
    [(i) => flagTcpFailure(i, 'no-healthy-upstream'), 'UH'],
    [(i) => flagTcpFailure(i, 'no-cluster'), 'NC'],
  ];
  for (const [set, want] of cases) {
    const i = info();
    set(i);
    assert.equal(flagsText(i.flags), want);
  }
});

test('flags print in Envoy order whatever order they were set in', () => {
  assert.equal(flagsText(new Set<ResponseFlag>(['URX', 'UF'])), 'UF,URX');
  assert.equal(flagsText(new Set<ResponseFlag>(['UF', 'URX'])), 'UF,URX');
  assert.equal(flagsText(new Set<ResponseFlag>(['DC', 'UT', 'UH'])), 'UH,UT,DC');
  assert.equal(flagsText(new Set<ResponseFlag>()), '-');
  const all: ResponseFlag[] = [
    'NC',
    'DPE',
    'SI',
    'URX',
    'DC',
    'RLSE',
    'RL',
    'FI',
    'NR',
    'UO',
    'UC',
    'UF',
    'UR',
    'UT',
    'UH',
  ];
  assert.equal(flagsText(new Set(all)), 'UH,UT,UR,UF,UC,UO,NR,FI,RL,RLSE,DC,URX,SI,DPE,NC');
});
