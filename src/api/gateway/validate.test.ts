/**
 * Gateway API validation as tables, one row per CRD rule (gateway-api's schema limits and CEL
 * rules): valid documents accepted, invalid ones refused with the field path and a reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAndValidate } from '../parse.js';
import { manifestOf } from '../validate.js';

const errors = (yaml: string) =>
  parseAndValidate(yaml, 't.yaml').flatMap((d) =>
    d.problems.filter((p) => p.severity === 'error').map((p) => `${p.path}: ${p.message}`),
  );

const doc = (kind: string, spec: string, apiVersion = 'gateway.networking.k8s.io/v1') =>
  `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: { name: x, namespace: ns }\nspec:\n${spec}`;

const route = (rule: string) => doc('HTTPRoute', `  parentRefs: [{ name: gw }]\n  rules:\n  - ${rule}\n`);

test('valid Gateway API documents of every kind and version are accepted', () => {
  const valid = [
    doc('GatewayClass', '  controllerName: istio.io/gateway-controller\n'),
    doc('GatewayClass', '  controllerName: example.com/gw\n', 'gateway.networking.k8s.io/v1beta1'),
    doc(
      'Gateway',
      '  gatewayClassName: istio\n  listeners: [{ name: http, port: 80, protocol: HTTP, hostname: "*.example.com" }]\n',
    ),
    doc(
      'Gateway',
      '  gatewayClassName: istio\n  listeners:\n  - { name: https, port: 443, protocol: HTTPS, tls: { mode: Terminate, certificateRefs: [{ name: cert }] } }\n  - { name: tls, port: 8443, protocol: TLS, tls: { mode: Passthrough } }\n  - { name: tcp, port: 9000, protocol: TCP }\n',
    ),
    route(
      'matches: [{ path: { type: RegularExpression, value: "/v[0-9]+/.*" }, method: GET }]\n    backendRefs: [{ name: a, port: 80 }]',
    ),
    route('backendRefs: [{ group: networking.istio.io, kind: Hostname, name: api.example.org }]'),
    route(
      'filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }]\n    matches: [{ path: { type: PathPrefix, value: /p } }]\n    backendRefs: [{ name: a, port: 80 }]',
    ),
    route(
      'timeouts: { request: 10s, backendRequest: 1m0s }\n    backendRefs: [{ name: a, port: 80 }]',
    ).replace('1m0s', '2s'),
    doc(
      'GRPCRoute',
      '  parentRefs: [{ name: gw }]\n  rules: [{ matches: [{ method: { service: helloworld.Greeter, method: SayHello } }], backendRefs: [{ name: a, port: 50051 }] }]\n',
    ),
    doc(
      'GRPCRoute',
      '  rules: [{ matches: [{ method: { type: RegularExpression, service: ".*" } }] }]\n',
      'gateway.networking.k8s.io/v1alpha2',
    ),
    doc(
      'TCPRoute',
      '  parentRefs: [{ name: gw, sectionName: tcp }]\n  rules: [{ backendRefs: [{ name: db, port: 5432 }] }]\n',
      'gateway.networking.k8s.io/v1alpha2',
    ),
    doc(
      'TLSRoute',
      '  hostnames: [a.example.com]\n  rules: [{ backendRefs: [{ name: s, port: 443 }] }]\n',
      'gateway.networking.k8s.io/v1alpha2',
    ),
    doc(
      'ReferenceGrant',
      '  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: a }]\n  to: [{ group: "", kind: Service }]\n',
      'gateway.networking.k8s.io/v1beta1',
    ),
  ];
  for (const yaml of valid) assert.deepEqual(errors(yaml), [], yaml);
});

test('invalid documents are refused with the field path and what to write instead', () => {
  const cases: [string, string, RegExp][] = [
    [
      'a path value not starting with /',
      route('matches: [{ path: { value: api } }]'),
      /^spec\.rules\[0\]\.matches\[0\]\.path\.value: "api" must be an absolute path and start with "\/"$/,
    ],
    [
      'a path with //',
      route('matches: [{ path: { type: Exact, value: "/a//b" } }]'),
      /path\.value: "\/a\/\/b" must not contain "\/\/"/,
    ],
    [
      'a path ending in /..',
      route('matches: [{ path: { value: "/a/.." } }]'),
      /path\.value: .*must not end with/,
    ],
    [
      'a bad regular expression',
      route('matches: [{ path: { type: RegularExpression, value: "(" } }]'),
      /path\.value: invalid RE2 regex/,
    ],
    [
      'an unknown path type',
      route('matches: [{ path: { type: Prefix, value: / } }]'),
      /path\.type: "Prefix" is not valid; expected one of Exact, PathPrefix, RegularExpression/,
    ],
    [
      'an unknown method',
      route('matches: [{ method: FETCH }]'),
      /matches\[0\]\.method: "FETCH" is not valid/,
    ],
    [
      'a header matched twice',
      route('matches: [{ headers: [{ name: X-A, value: "1" }, { name: x-a, value: "2" }] }]'),
      /headers\[1\]\.name: "x-a" is matched twice/,
    ],
    [
      'a Service backend without a port',
      route('backendRefs: [{ name: a }]'),
      /backendRefs\[0\]\.port: required for a Service reference/,
    ],
    [
      'a weight out of range',
      route('backendRefs: [{ name: a, port: 80, weight: 1000001 }]'),
      /backendRefs\[0\]\.weight: 1000001 is out of range; expected 0\.\.1000000/,
    ],
    [
      'redirect with backends',
      route(
        'filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }]\n    backendRefs: [{ name: a, port: 80 }]',
      ),
      /rules\[0\]\.backendRefs: must be empty on a rule with a RequestRedirect filter/,
    ],
    [
      'redirect and rewrite together',
      route(
        'filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }, { type: URLRewrite, urlRewrite: { hostname: a.b } }]',
      ),
      /filters: RequestRedirect and URLRewrite cannot both be set/,
    ],
    [
      'a filter without its field',
      route('filters: [{ type: RequestHeaderModifier }]'),
      /filters\[0\]\.requestHeaderModifier: required for a filter of type RequestHeaderModifier/,
    ],
    [
      "a filter with another type's field",
      route('filters: [{ type: RequestHeaderModifier, requestHeaderModifier: {}, urlRewrite: {} }]'),
      /filters\[0\]\.urlRewrite: must be unset for a filter of type RequestHeaderModifier/,
    ],
    [
      'a status code redirects do not use',
      route('filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 418 } }]'),
      /statusCode: 418 is not valid; expected one of 301, 302, 303, 307, 308/,
    ],
    [
      'prefix rewrite without a PathPrefix match',
      route(
        'filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /x } } }]\n    matches: [{ path: { type: Exact, value: /a } }]',
      ),
      /filters: ReplacePrefixMatch needs exactly one match, of path type PathPrefix/,
    ],
    [
      'a path modifier missing its value',
      route('filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath } } }]'),
      /path\.replaceFullPath: required when type is ReplaceFullPath/,
    ],
    [
      'a backendRequest longer than request',
      route('timeouts: { request: 1s, backendRequest: 2s }'),
      /timeouts\.backendRequest: must not be longer than the request timeout/,
    ],
    [
      'a malformed timeout',
      route('timeouts: { request: 1.5s }'),
      /timeouts\.request: invalid duration "1\.5s"/,
    ],
    [
      'an unknown rule field',
      route('backendRef: [{ name: a, port: 80 }]'),
      /rules\[0\]\.backendRef: unknown field/,
    ],
    [
      'an upper case hostname',
      doc('HTTPRoute', '  hostnames: [Shop.Example.com]\n'),
      /hostnames\[0\]: "Shop\.Example\.com" is not a valid hostname/,
    ],
    [
      'an IP as hostname',
      doc('HTTPRoute', '  hostnames: ["10.0.0.1"]\n'),
      /hostnames\[0\]: "10\.0\.0\.1": an IP address is not allowed/,
    ],
    [
      'the same parent twice',
      doc('HTTPRoute', '  parentRefs: [{ name: gw }, { name: gw }]\n'),
      /parentRefs\[1\]: the same parent is referenced twice/,
    ],
    [
      'a Gateway without listeners',
      doc('Gateway', '  gatewayClassName: istio\n'),
      /^spec\.listeners: required; must not be empty$/,
    ],
    [
      'a Gateway without a class',
      doc('Gateway', '  listeners: [{ name: a, port: 80, protocol: HTTP }]\n'),
      /^spec\.gatewayClassName: required$/,
    ],
    [
      'listener names twice',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 80, protocol: HTTP }, { name: a, port: 81, protocol: HTTP }]\n',
      ),
      /listeners\[1\]\.name: listener name "a" must be unique/,
    ],
    [
      'the same port, protocol and hostname twice',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 80, protocol: HTTP }, { name: b, port: 80, protocol: HTTP }]\n',
      ),
      /listeners\[1\]: another listener has the same port, protocol and hostname/,
    ],
    [
      'HTTPS without tls',
      doc('Gateway', '  gatewayClassName: istio\n  listeners: [{ name: a, port: 443, protocol: HTTPS }]\n'),
      /listeners\[0\]\.tls: required for protocol HTTPS/,
    ],
    [
      'Terminate without certificates',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 443, protocol: HTTPS, tls: { mode: Terminate } }]\n',
      ),
      /tls\.certificateRefs: required when mode is Terminate/,
    ],
    [
      'HTTP with tls',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 80, protocol: HTTP, tls: { certificateRefs: [{ name: c }] } }]\n',
      ),
      /listeners\[0\]\.tls: must not be set for protocol HTTP/,
    ],
    [
      'TCP with a hostname',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 9000, protocol: TCP, hostname: a.b }]\n',
      ),
      /listeners\[0\]\.hostname: must not be set for protocol TCP/,
    ],
    [
      'a port out of range',
      doc('Gateway', '  gatewayClassName: istio\n  listeners: [{ name: a, port: 70000, protocol: HTTP }]\n'),
      /listeners\[0\]\.port: 70000 is out of range/,
    ],
    [
      'Selector without a selector',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Selector } } }]\n',
      ),
      /allowedRoutes\.namespaces\.selector: required when from is Selector/,
    ],
    [
      'a controllerName without a domain',
      doc('GatewayClass', '  controllerName: istio\n'),
      /spec\.controllerName: "istio" is not a domain-prefixed path/,
    ],
    [
      'a ReferenceGrant without to',
      doc(
        'ReferenceGrant',
        '  from: [{ group: "", kind: HTTPRoute, namespace: a }]\n',
        'gateway.networking.k8s.io/v1beta1',
      ),
      /^spec\.to: required; must not be empty$/,
    ],
    [
      'a ReferenceGrant from without group',
      doc(
        'ReferenceGrant',
        '  from: [{ kind: HTTPRoute, namespace: a }]\n  to: [{ group: "", kind: Service }]\n',
        'gateway.networking.k8s.io/v1beta1',
      ),
      /spec\.from\[0\]\.group: required/,
    ],
    [
      'a TCPRoute without backends',
      doc('TCPRoute', '  rules: [{}]\n', 'gateway.networking.k8s.io/v1alpha2'),
      /rules\[0\]\.backendRefs: required; must not be empty/,
    ],
    [
      'a GRPCRoute method match with neither service nor method',
      doc('GRPCRoute', '  rules: [{ matches: [{ method: { type: Exact } }] }]\n'),
      /matches\[0\]\.method: set service, method or both/,
    ],
    [
      'a GRPCRoute service name with a slash',
      doc('GRPCRoute', '  rules: [{ matches: [{ method: { service: "a/b" } }] }]\n'),
      /method\.service: "a\/b" is not a gRPC service name/,
    ],
    [
      'a GRPCRoute with a redirect',
      doc('GRPCRoute', '  rules: [{ filters: [{ type: RequestRedirect, requestRedirect: {} }] }]\n'),
      /filters\[0\]\.type: "RequestRedirect" is not valid/,
    ],
    [
      'an HTTPRoute in a version that does not exist',
      doc('HTTPRoute', '  rules: []\n', 'gateway.networking.k8s.io/v1alpha1'),
      /^apiVersion: HTTPRoute does not exist in version "v1alpha1"/,
    ],
    [
      'client certificate validation (would be skipped)',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  listeners: [{ name: a, port: 443, protocol: HTTPS, tls: { certificateRefs: [{ name: c }], frontendValidation: { caCertificateRefs: [{ name: ca, kind: ConfigMap, group: "" }] } } }]\n',
      ),
      /tls\.frontendValidation: client certificate validation of Gateway API listeners is not supported by Trellis; use an Istio Gateway server with tls\.mode MUTUAL/,
    ],
    [
      'backend TLS',
      doc(
        'Gateway',
        '  gatewayClassName: istio\n  backendTLS: {}\n  listeners: [{ name: a, port: 80, protocol: HTTP }]\n',
      ),
      /spec\.backendTLS: not supported by Trellis/,
    ],
    [
      'a Gateway API kind Trellis does not know',
      doc('UDPRoute', '  rules: []\n', 'gateway.networking.k8s.io/v1alpha2'),
      /^kind: unknown kind "UDPRoute" in gateway\.networking\.k8s\.io; supported kinds: .*Gateway/,
    ],
  ];
  for (const [what, yaml, want] of cases) {
    const got = errors(yaml);
    assert.ok(
      got.some((e) => want.test(e)),
      `${what}: expected ${want}, got ${JSON.stringify(got)}`,
    );
  }
});

test("the Gateway API's Gateway is stored as KubernetesGateway and written back as Gateway", () => {
  const [parsed] = parseAndValidate(
    doc('Gateway', '  gatewayClassName: istio\n  listeners: [{ name: a, port: 80, protocol: HTTP }]\n'),
    't.yaml',
  );
  assert.equal(parsed!.resource?.kind, 'KubernetesGateway');
  assert.equal(manifestOf(parsed!.resource).kind, 'Gateway');
  const [istio] = parseAndValidate(
    'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: g }\nspec: { servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }\n',
    't.yaml',
  );
  assert.equal(istio!.resource?.kind, 'Gateway', "Istio's Gateway keeps its name");
});

test('status written in a file is ignored, not refused (kubectl get -o yaml output applies unchanged)', () => {
  const yaml = route('backendRefs: [{ name: a, port: 80 }]') + 'status:\n  parents: []\n';
  assert.deepEqual(errors(yaml), []);
  assert.equal(parseAndValidate(yaml, 't.yaml')[0]!.resource?.status, undefined);
});
