import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyEnvRefusal, safeProxyEnv } from './proxy-env.js';

const ALLOWED = [
  'ISTIO_META_DNS_CAPTURE',
  'ISTIO_META_CLUSTER_ID',
  'TRELLIS_LOG_LEVEL',
  'TRELLIS_LOG_FORMAT',
  'TZ',
  'LANG',
  'APP_MODE',
  'NODEJS', // no underscore after NODE: not Node's
  'MY_NODE_OPTIONS', // the prefix is at the start only
  'PATHS',
  'HOMEDIR',
];

const REFUSED: [string, string][] = [
  ['NODE_OPTIONS', 'Node.js reads NODE_*'],
  ['NODE_EXTRA_CA_CERTS', 'Node.js reads NODE_*'],
  ['NODE_TLS_REJECT_UNAUTHORIZED', 'Node.js reads NODE_*'],
  ['node_options', 'Node.js reads NODE_*'],
  ['LD_PRELOAD', 'LD_PRELOAD loads a library'],
  ['LD_LIBRARY_PATH', 'the dynamic loader reads LD_*'],
  ['DYLD_INSERT_LIBRARIES', 'macOS dynamic loader'],
  ['UV_THREADPOOL_SIZE', 'libuv reads UV_*'],
  ['npm_config_script_shell', 'npm passes its configuration'],
  ['GRPC_DEFAULT_SSL_ROOTS_FILE_PATH', 'which CAs the xDS client trusts'],
  ['TRELLIS_PROXY_WORKER', 'TRELLIS_PROXY_* for its own processes'],
  ['PATH', 'which programs the proxy runs'],
  ['HOME', 'where configuration files are read from'],
  ['SSL_CERT_FILE', 'which CAs TLS trusts'],
  ['SSL_CERT_DIR', 'which CAs TLS trusts'],
  ['OPENSSL_CONF', 'can load engines'],
  ['OPENSSL_MODULES', 'provider modules'],
  ['OPENSSL_ENGINES', 'engines (code)'],
  ['HTTP_PROXY', 'through the proxy HTTP_PROXY names'],
  ['http_proxy', 'through the proxy HTTP_PROXY names'],
  ['HTTPS_PROXY', 'through the proxy HTTPS_PROXY names'],
  ['grpc_proxy', 'through the proxy GRPC_PROXY names'],
  ['no_proxy', 'which connections go through an HTTP proxy'],
  ['no_grpc_proxy', 'which connections go through an HTTP proxy'],
];

for (const name of ALLOWED) {
  test(`proxy env: ${name} is allowed`, () => assert.equal(proxyEnvRefusal(name), undefined));
}

for (const [name, reason] of REFUSED) {
  test(`proxy env: ${name} is refused (${reason})`, () => {
    const why = proxyEnvRefusal(name) ?? '';
    assert.ok(why.startsWith('would change how the proxy process runs: '), why);
    assert.ok(why.includes(reason), why);
    assert.ok(why.endsWith('remove it (ISTIO_META_* and other names are allowed)'), why);
  });
}

test('proxy env: safeProxyEnv keeps the allowed ones and lists the others, sorted', () => {
  assert.deepEqual(safeProxyEnv({ PATH: '/x', ISTIO_META_A: '1', NODE_OPTIONS: '-r x', B: '' }), {
    env: { B: '', ISTIO_META_A: '1' },
    dropped: [`NODE_OPTIONS: ${proxyEnvRefusal('NODE_OPTIONS')}`, `PATH: ${proxyEnvRefusal('PATH')}`],
  });
});
