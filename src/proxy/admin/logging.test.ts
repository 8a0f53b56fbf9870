import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LogLevel } from '../../core/logger.js';
import type { AccessLogSwitch } from '../connection-manager/access-log.js';
import { accessLogRoute, loggingRoute } from './logging.js';

function levelHandle(start: LogLevel = 'info') {
  const h = {
    level: start,
    setLevel(l: LogLevel) {
      h.level = l;
    },
  };
  return h;
}

const q = (s: string) => new URLSearchParams(s);

test('loggingRoute: Envoy level names set the level by POST; the listing in Envoy text', () => {
  const cases: [string, string, number, LogLevel, RegExp][] = [
    ['POST', 'level=debug', 200, 'debug', /^active loggers:\n {2}trellis: debug\n$/],
    ['POST', 'level=warning', 200, 'warn', /trellis: warning/],
    ['POST', 'level=WARN', 200, 'warn', /trellis: warning/],
    ['POST', 'level=trace', 200, 'debug', /trellis: debug/],
    ['POST', 'level=critical', 200, 'error', /trellis: error/],
    ['POST', 'level=off', 200, 'silent', /trellis: off/],
    ['POST', '', 200, 'info', /trellis: info/],
    ['GET', '', 200, 'info', /^active loggers:\n {2}trellis: info\n$/],
    // A change by GET is refused, as Envoy refuses it.
    ['GET', 'level=debug', 405, 'info', /needs POST \/logging\?level=LEVEL/],
    [
      'POST',
      'level=loud',
      400,
      'info',
      /unknown log level "loud"; expected one of trace, debug, info, warning, warn, error, critical, off/,
    ],
    ['POST', 'level=', 400, 'info', /unknown log level ""/],
    // Envoy's per-logger form (?router=debug) is not supported: a clear 400, nothing changed.
    ['POST', 'router=debug', 400, 'info', /unknown parameter "router"; use \/logging\?level=LEVEL/],
  ];
  for (const [method, query, status, level, body] of cases) {
    const h = levelHandle();
    const r = loggingRoute(method, q(query), h);
    assert.equal(r.status, status, `${method} ${query}`);
    assert.equal(h.level, level, `${method} ${query}`);
    assert.match(r.body, body, `${method} ${query}`);
  }
});

test('accessLogRoute: on, off, config by POST; the state by GET', () => {
  const cases: [string, string, number, AccessLogSwitch, string][] = [
    ['POST', 'state=on', 200, 'on', 'access_log: on\n'],
    ['POST', 'state=OFF', 200, 'off', 'access_log: off\n'],
    ['POST', 'state=config', 200, 'config', 'access_log: config\n'],
    ['GET', '', 200, 'config', 'access_log: config\n'],
    [
      'GET',
      'state=on',
      405,
      'config',
      'changing the access log needs POST /access_log?state=on|off|config\n',
    ],
    ['POST', 'state=yes', 400, 'config', 'unknown access log state "yes"; expected on, off or config\n'],
  ];
  for (const [method, query, status, state, body] of cases) {
    const h = { state: 'config' as AccessLogSwitch };
    const r = accessLogRoute(method, q(query), h);
    assert.deepEqual([r.status, h.state, r.body], [status, state, body], `${method} ${query}`);
  }
});
