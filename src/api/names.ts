/**
 * Syntax of the names Istio resources contain: DNS-1123 labels and subdomains, Kubernetes
 * label keys and values, wildcard domains, CIDRs. Each check returns an error message or
 * undefined, so callers attach their own field path.
 */
import { isIPAddress, isIPv4, isIPv6 } from './hosts.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** RFC 7230 token characters, lower case as Envoy stores header names. */
const HEADER_NAME = /^[-!#$%&'*+.^_`|~0-9a-zA-Z]+$/;

export function dns1123LabelError(name: string): string | undefined {
  if (name.length > 63) return `${JSON.stringify(name)} is longer than 63 characters`;
  if (!DNS1123_LABEL.test(name)) {
    return `${JSON.stringify(name)} is not a valid DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit`;
  }
  return undefined;
}

export function dns1123SubdomainError(name: string): string | undefined {
  if (name.length > 253) return `${JSON.stringify(name)} is longer than 253 characters`;
  if (!name.split('.').every((part) => DNS1123_LABEL.test(part) && part.length <= 63)) {
    return `${JSON.stringify(name)} is not a valid DNS-1123 subdomain: dot-separated lower-case labels of letters, digits and '-'`;
  }
  return undefined;
}

/** Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain, name up to 63 characters. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && dns1123SubdomainError(prefix) !== undefined) {
    return `label key ${JSON.stringify(key)} has an invalid prefix: expected a DNS-1123 subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `label key ${JSON.stringify(key)} is invalid: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

export function labelValueError(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value)) {
    return `label value ${JSON.stringify(value)} is invalid: up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/**
 * A host as VirtualService, DestinationRule and ServiceEntry accept it: `*`, `*.domain`, or a
 * domain of DNS labels (case-insensitive), up to 255 characters.
 */
export function wildcardDomainError(host: string): string | undefined {
  if (host === '') return 'host must not be empty';
  if (host === '*') return undefined;
  if (host.length > 255) return `host ${JSON.stringify(host)} is longer than 255 characters`;
  const rest = host.startsWith('*.') ? host.slice(2) : host;
  if (isIPAddress(rest)) return undefined;
  const labels = rest.split('.');
  // Istio also takes a partial wildcard first label, `*foo` or `*-foo` (a suffix match).
  const first = labels[0] ?? '';
  if (first.startsWith('*') && first !== '*') labels[0] = first.replace(/^\*-?/, '');
  for (const label of labels) {
    if (dns1123LabelError(label.toLowerCase()) !== undefined) {
      return `host ${JSON.stringify(host)} is not a valid domain name: ${label === '' ? 'empty label' : `label ${JSON.stringify(label)}`}; wildcards are allowed only as a leading '*.'`;
    }
  }
  return undefined;
}

/** A fully-qualified DNS name without wildcards (what DNS resolution needs). */
export function fqdnError(host: string): string | undefined {
  if (host.includes('*')) return `host ${JSON.stringify(host)} must not contain a wildcard`;
  return wildcardDomainError(host);
}

/** An IP address or CIDR block (`10.0.0.0/8`, `2001:db8::/32`). */
export function cidrError(text: string): string | undefined {
  const [ip, bits, extra] = text.split('/');
  const ok =
    extra === undefined &&
    ip !== undefined &&
    isIPAddress(ip) &&
    (bits === undefined ||
      (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIPv4(ip) ? 32 : isIPv6(ip) ? 128 : 0)));
  return ok ? undefined : `${JSON.stringify(text)} is not an IP address or CIDR block`;
}

/** Envoy's limit on one header value (HeaderValue.value max_bytes). */
export const MAX_HEADER_VALUE_BYTES = 16_384;

/**
 * A header value (or a redirect path/authority, which Envoy checks the same way): no NUL, CR or
 * LF, at most 16 KiB; Envoy rejects the whole route configuration otherwise.
 */
export function headerValueError(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000\r\n]/.test(value)) return `${JSON.stringify(value)}: must not contain NUL, CR or LF`;
  if (Buffer.byteLength(value) > MAX_HEADER_VALUE_BYTES)
    return `must be at most ${MAX_HEADER_VALUE_BYTES} bytes`;
  return undefined;
}

export function headerNameError(name: string): string | undefined {
  if (name === '') return 'header name must not be empty';
  if (name.startsWith(':')) return `header ${JSON.stringify(name)}: pseudo-headers cannot be used here`;
  if (!HEADER_NAME.test(name)) return `${JSON.stringify(name)} is not a valid HTTP header name`;
  return undefined;
}
