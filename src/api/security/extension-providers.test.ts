import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { formatProblem, Problems } from '../../core/errors.js';
import { parseExtensionProviders } from './extension-providers.js';

function read(yaml: string): { providers: unknown; problems: string[] } {
  const problems = new Problems();
  const providers = parseExtensionProviders(
    (parse(yaml) as { extensionProviders?: unknown }).extensionProviders,
    problems,
  );
  return { providers, problems: problems.items.map(formatProblem) };
}

test("Istio's documented ext_authz providers parse; other provider kinds are left to telemetry", () => {
  const { providers, problems } = read(`
extensionProviders:
- name: opa
  envoyExtAuthzGrpc: { service: opa.opa.svc.cluster.local, port: 9191, timeout: 2s, failOpen: true }
- name: oauth2-proxy
  envoyExtAuthzHttp:
    service: oauth2-proxy.foo.svc.cluster.local
    port: 4180
    pathPrefix: /check
    statusOnError: "503"
    includeRequestHeadersInCheck: [authorization, cookie, x-*]
    includeAdditionalHeadersInCheck: { x-ext-authz-additional: value }
    headersToUpstreamOnAllow: [authorization, path, x-auth-request-user]
    headersToDownstreamOnDeny: [content-type, set-cookie]
    headersToDownstreamOnAllow: ["*-id"]
    includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true }
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411 }
`);
  assert.deepEqual(problems, []);
  assert.deepEqual(providers, [
    {
      name: 'opa',
      kind: 'grpc',
      grpc: { service: 'opa.opa.svc.cluster.local', port: 9191, timeoutMs: 2000, failOpen: true },
    },
    {
      name: 'oauth2-proxy',
      kind: 'http',
      http: {
        service: 'oauth2-proxy.foo.svc.cluster.local',
        port: 4180,
        statusOnError: 503,
        includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true },
        pathPrefix: '/check',
        includeRequestHeadersInCheck: ['authorization', 'cookie', 'x-*'],
        includeAdditionalHeadersInCheck: { 'x-ext-authz-additional': 'value' },
        headersToUpstreamOnAllow: ['authorization', 'path', 'x-auth-request-user'],
        headersToDownstreamOnDeny: ['content-type', 'set-cookie'],
        headersToDownstreamOnAllow: ['*-id'],
      },
    },
  ]);
});

test('bad providers are refused with their field paths', () => {
  const { problems } = read(`
extensionProviders:
- name: Bad_Name
  envoyExtAuthzGrpc: { service: a, port: 70000 }
- name: dup
  envoyExtAuthzHttp: { service: a, port: 80, pathPrefix: check, statusOnError: "abc", headersToUpstreamOnAllow: ["*"] }
- name: dup
  envoyExtAuthzHttp: { port: 80 }
- name: two
  envoyExtAuthzHttp: { service: a, port: 80 }
  envoyExtAuthzGrpc: { service: a, port: 80 }
- envoyExtAuthzGrpc: { service: a, port: 80, bogus: 1 }
- null
`);
  assert.deepEqual(problems, [
    'extensionProviders[0].name: "Bad_Name": only lowercase letters, digits and \'-\', not at the start or the end',
    'extensionProviders[0].envoyExtAuthzGrpc.port: 70000 is out of range; expected 1..65535',
    'extensionProviders[1].envoyExtAuthzHttp.statusOnError: "abc" is not an HTTP status code',
    'extensionProviders[1].envoyExtAuthzHttp.pathPrefix: must begin with "/"; found "check"',
    'extensionProviders[1].envoyExtAuthzHttp.headersToUpstreamOnAllow[0]: a lone "*" is not supported; use a prefix (x-*) or suffix (*-id) match',
    'extensionProviders[2].name: "dup" is defined twice',
    'extensionProviders[2].envoyExtAuthzHttp.service: required',
    'extensionProviders[3]: expected exactly one provider kind; found envoyExtAuthzHttp, envoyExtAuthzGrpc',
    'extensionProviders[4].name: required',
    'extensionProviders[4].envoyExtAuthzGrpc.bogus: unknown field; allowed: service, port, timeout, failOpen, statusOnError, includeRequestBodyInCheck',
    'extensionProviders[5]: must not be null',
  ]);
});

test('no extensionProviders, or not a list', () => {
  assert.deepEqual(read('{}').providers, []);
  assert.deepEqual(read('extensionProviders: {}').problems, [
    'extensionProviders: expected a list of extension providers',
  ]);
});
