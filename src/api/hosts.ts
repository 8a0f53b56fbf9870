/**
 * Host names the way Istio reads them: short-name expansion, `*` wildcards and protocol
 * detection from port names. Pure functions; the translator and validation share them.
 */

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIPv4(text: string): boolean {
  const m = IPV4.exec(text);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255);
}

export function isIPv6(text: string): boolean {
  if (!text.includes(':') || !/^[0-9a-fA-F:.]+$/.test(text)) return false;
  const doubleColons = text.split('::').length - 1;
  if (doubleColons > 1) return false;
  const groups = text.split(':');
  const last = groups[groups.length - 1] as string;
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) stands for two groups.
  const tailGroups = last.includes('.') ? (isIPv4(last) ? 2 : NaN) : 1;
  const hex = last.includes('.') ? groups.slice(0, -1) : groups;
  const named = hex.filter((g) => g !== '');
  if (!named.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const total = named.length + (last.includes('.') ? tailGroups : 0);
  return doubleColons === 1 ? total < 8 : total === 8;
}

export function isIPAddress(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}

/**
 * Resolves a host as written in a resource of `namespace` to the name the mesh uses, as Istio's
 * ResolveShortnameToFQDN does: a name without any dot (`reviews`) becomes
 * `reviews.NAMESPACE.svc.DOMAIN`; names with a dot (`reviews.prod`, `httpbin.org`), wildcards
 * (`*`, `*.example.com`) and IP addresses stay as written. Istio deliberately does not expand
 * `name.namespace`: it cannot tell it from an external two-label name like `httpbin.org`.
 */
export function fqdn(host: string, namespace: string, domainSuffix = 'cluster.local'): string {
  if (host === '' || host === '*' || host.includes('.') || isIPAddress(host)) return host;
  let out = host;
  if (namespace !== '') out += `.${namespace}`;
  if (domainSuffix !== '') out += `.svc.${domainSuffix}`;
  return out;
}

export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

/**
 * True when every name `host` stands for is covered by `pattern` (Istio's Name.SubsetOf):
 * `*` covers everything, `*.example.com` covers `a.example.com`, `a.b.example.com` and
 * `*.b.example.com` but not `example.com`; other names match only themselves. Case-insensitive.
 */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (isWildcardHost(h)) {
    return isWildcardHost(p) && h.slice(1).endsWith(p.slice(1));
  }
  if (isWildcardHost(p)) return h.endsWith(p.slice(1));
  return p === h;
}

/** True when some name could match both (Istio's Name.Matches); symmetric. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

export type Protocol =
  | 'HTTP'
  | 'HTTP2'
  | 'HTTPS'
  | 'GRPC'
  | 'GRPC-WEB'
  | 'HTTP_PROXY'
  | 'TCP'
  | 'TLS'
  | 'UDP'
  | 'MONGO'
  | 'REDIS'
  | 'MYSQL'
  /** Not declared or not recognised: Istio treats the port as TCP with protocol sniffing. */
  | 'UNSUPPORTED';

const PROTOCOLS: Record<string, Protocol> = {
  http: 'HTTP',
  http2: 'HTTP2',
  https: 'HTTPS',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-WEB',
  http_proxy: 'HTTP_PROXY',
  tcp: 'TCP',
  tls: 'TLS',
  udp: 'UDP',
  mongo: 'MONGO',
  redis: 'REDIS',
  mysql: 'MYSQL',
  // Kubernetes appProtocol values Istio understands.
  'kubernetes.io/h2c': 'HTTP2',
  'kubernetes.io/ws': 'HTTP',
  'kubernetes.io/wss': 'HTTPS',
};

/** Parses an explicit protocol (`HTTP`, `grpc`, ...), case-insensitive; UNSUPPORTED if unknown. */
export function parseProtocol(protocol: string): Protocol {
  return PROTOCOLS[protocol.toLowerCase()] ?? 'UNSUPPORTED';
}

/**
 * The protocol of a port: the explicit protocol when it is a known one, else the port name's
 * prefix before the first `-` (`http-web` -> HTTP, `grpc` -> GRPC, `tcp-db` -> TCP), else
 * UNSUPPORTED. Note `grpc-web` as a name is GRPC (prefix `grpc`), as in Istio.
 */
export function portProtocol(name?: string, protocol?: string): Protocol {
  if (protocol !== undefined && protocol !== '') {
    const explicit = parseProtocol(protocol);
    if (explicit !== 'UNSUPPORTED') return explicit;
  }
  if (name === undefined || name === '') return 'UNSUPPORTED';
  const dash = name.indexOf('-');
  return parseProtocol(dash >= 0 ? name.slice(0, dash) : name);
}

/** Protocols whose traffic goes through the HTTP connection manager (routes, retries, faults). */
export function isHTTPProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-WEB' || p === 'HTTP_PROXY';
}

/** Protocols routed by SNI (TLS routes). */
export function isTLSProtocol(p: Protocol): boolean {
  return p === 'HTTPS' || p === 'TLS';
}
