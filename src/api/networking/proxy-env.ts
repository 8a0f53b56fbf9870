/**
 * Which environment variables a ProxyConfig (or the mesh config's `defaultConfig.proxyMetadata`)
 * may give a proxy's processes. The proxy is a Node process: some variables change what code it
 * runs or whom it trusts (NODE_OPTIONS=--require, LD_PRELOAD, NODE_EXTRA_CA_CERTS, a gRPC proxy
 * for its xDS stream), so anyone who may write a ProxyConfig could run code in, or read the
 * traffic of, every proxy it selects. Those are refused at apply and dropped again at proxy start
 * (a control plane older than this check may still serve them). ISTIO_META_* and other names are
 * left alone.
 */

/** Prefixes read by Node, the dynamic loader, libuv, npm, gRPC and the Trellis proxy itself. */
const PREFIXES: readonly [string, string][] = [
  [
    'NODE_',
    'Node.js reads NODE_* (NODE_OPTIONS loads code, NODE_EXTRA_CA_CERTS and NODE_TLS_REJECT_UNAUTHORIZED change trust)',
  ],
  ['LD_', 'the dynamic loader reads LD_* (LD_PRELOAD loads a library into the process)'],
  ['DYLD_', 'the macOS dynamic loader reads DYLD_* (DYLD_INSERT_LIBRARIES loads a library into the process)'],
  ['UV_', 'libuv reads UV_* (its thread pool and I/O)'],
  ['npm_', 'npm passes its configuration as npm_*'],
  ['GRPC_', 'gRPC reads GRPC_* (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH changes which CAs the xDS client trusts)'],
  ['TRELLIS_PROXY_', 'the Trellis proxy keeps TRELLIS_PROXY_* for its own processes'],
];

/**
 * Whole names. Names and prefixes are compared ignoring case: gRPC reads http_proxy in both
 * cases, and Windows' environment ignores case. TZ and LANG are allowed: they change how times and text are shown, not
 * what runs or whom the proxy trusts; TRELLIS_LOG_LEVEL/FORMAT are allowed on purpose.
 */
const NAMES: ReadonlyMap<string, string> = new Map([
  ['PATH', 'PATH decides which programs the proxy runs'],
  ['HOME', 'HOME decides where configuration files are read from'],
  ['SSL_CERT_FILE', 'SSL_CERT_FILE changes which CAs TLS trusts'],
  ['SSL_CERT_DIR', 'SSL_CERT_DIR changes which CAs TLS trusts'],
  ['OPENSSL_CONF', 'OPENSSL_CONF loads an OpenSSL configuration, which can load engines (code)'],
  ['OPENSSL_MODULES', 'OPENSSL_MODULES decides where OpenSSL loads provider modules (code) from'],
  ['OPENSSL_ENGINES', 'OPENSSL_ENGINES decides where OpenSSL loads engines (code) from'],
  ['HTTP_PROXY', 'gRPC sends the xDS stream through the proxy HTTP_PROXY names'],
  ['HTTPS_PROXY', 'gRPC sends the xDS stream through the proxy HTTPS_PROXY names'],
  ['GRPC_PROXY', 'gRPC sends the xDS stream through the proxy GRPC_PROXY names'],
  ['NO_PROXY', 'NO_PROXY changes which connections go through an HTTP proxy'],
  ['NO_GRPC_PROXY', 'NO_GRPC_PROXY changes which connections go through an HTTP proxy'],
]);

/**
 * Why a proxy must not be started with this variable, or undefined when it may. The reason
 * starts with "would change how the proxy process runs".
 */
export function proxyEnvRefusal(name: string): string | undefined {
  const upper = name.toUpperCase();
  const whole = NAMES.get(upper);
  const prefix = PREFIXES.find(([p]) => upper.startsWith(p.toUpperCase()))?.[1];
  const why = whole ?? prefix;
  if (why === undefined) return undefined;
  return `would change how the proxy process runs: ${why}; remove it (ISTIO_META_* and other names are allowed)`;
}

/** The variables a proxy may start with, and one line per one it must not. */
export function safeProxyEnv(env: Readonly<Record<string, string>>): {
  env: Record<string, string>;
  dropped: string[];
} {
  const out: Record<string, string> = {};
  const dropped: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const why = proxyEnvRefusal(name);
    if (why === undefined) out[name] = env[name] as string;
    else dropped.push(`${name}: ${why}`);
  }
  return { env: out, dropped };
}
