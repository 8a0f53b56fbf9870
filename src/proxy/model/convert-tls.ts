/**
 * TLS resources: an SDS Secret -> SecretConfig, and a filter chain's DownstreamTlsContext
 * transport socket -> DownstreamTlsConfig.
 *
 * Secrets hold a tls_certificate (chain + key) or a validation_context (trusted CA), inline
 * (inline_bytes or inline_string): every PEM is parsed and the key must belong to the
 * certificate, so a bad Secret is NACKed with its field path (`Secret "shop-cert"
 * .tls_certificate.private_key: the private key does not match the certificate (CN=shop)`)
 * and the last good one keeps serving. Messages never quote the PEM.
 *
 * Downstream contexts take their certificates from SDS only (what the control plane sends);
 * inline certificates, SPKI/hash pinning and the like are refused with the field that asks.
 */
import tls from 'node:tls';
import { isTrellisError, type Problems } from '../../core/errors.js';
import { checkKeyPair, parseCertificates } from '../../core/pem.js';
import { TYPE, unpackAny, type AnyLike } from '../../protocol/protos.js';
import type { DownstreamTlsConfig, ListenerConfig, SecretConfig, SubjectAltNameMatch } from './config.js';
import { compileStringMatcher, type StringMatcherConfig } from '../policy/string-matcher.js';
import { checkFields, fieldSet } from './convert-common.js';

/** envoy.config.core.v3.DataSource as protobufjs decodes it (bytes as Buffer). */
interface DataSourceMsg {
  inline_bytes?: Uint8Array;
  inline_string?: string;
  filename?: string;
  environment_variable?: string;
  [field: string]: unknown;
}

export interface SecretMsg {
  name?: string;
  tls_certificate?: {
    certificate_chain?: DataSourceMsg;
    private_key?: DataSourceMsg;
    [field: string]: unknown;
  };
  validation_context?: { trusted_ca?: DataSourceMsg; [field: string]: unknown };
  [field: string]: unknown;
}

interface SdsSecretConfigMsg {
  name?: string;
  sds_config?: { ads?: object; [field: string]: unknown };
  [field: string]: unknown;
}

/** CertificateValidationContext: what the proxy enforces beyond the CA (which comes over SDS). */
interface ValidationContextMsg {
  match_typed_subject_alt_names?: {
    san_type?: string;
    matcher?: StringMatcherConfig;
    [field: string]: unknown;
  }[];
  match_subject_alt_names?: StringMatcherConfig[];
  verify_certificate_spki?: string[];
  verify_certificate_hash?: string[];
  [field: string]: unknown;
}

interface DownstreamTlsContextMsg {
  common_tls_context?: {
    tls_certificate_sds_secret_configs?: SdsSecretConfigMsg[];
    validation_context_sds_secret_config?: SdsSecretConfigMsg;
    combined_validation_context?: {
      default_validation_context?: ValidationContextMsg;
      validation_context_sds_secret_config?: SdsSecretConfigMsg;
      [field: string]: unknown;
    };
    alpn_protocols?: string[];
    tls_params?: {
      tls_minimum_protocol_version?: string;
      tls_maximum_protocol_version?: string;
      cipher_suites?: string[];
      [field: string]: unknown;
    };
    [field: string]: unknown;
  };
  require_client_certificate?: { value?: boolean };
  [field: string]: unknown;
}

const SECRET_FIELDS = fieldSet('name', 'tls_certificate', 'validation_context');
const CERTIFICATE_FIELDS = fieldSet('certificate_chain', 'private_key');
const VALIDATION_FIELDS = fieldSet('trusted_ca');
const DATA_SOURCE_FIELDS = fieldSet('inline_bytes', 'inline_string');

/** The PEM text of an inline DataSource; undefined (with a problem) otherwise. */
function pemOf(ds: DataSourceMsg | undefined, path: string, problems: Problems): string | undefined {
  if (ds === undefined) {
    problems.error(path, 'required');
    return undefined;
  }
  if (ds.filename !== undefined || ds.environment_variable !== undefined) {
    problems.error(path, 'only inline_bytes and inline_string are supported (the proxy reads no files)');
    return undefined;
  }
  checkFields(ds, path, DATA_SOURCE_FIELDS, problems);
  const text =
    ds.inline_bytes !== undefined ? Buffer.from(ds.inline_bytes).toString('utf8') : (ds.inline_string ?? '');
  if (text.trim() === '') {
    problems.error(path, 'must not be empty');
    return undefined;
  }
  return text;
}

export function convertSecret(msg: SecretMsg, path: string, problems: Problems): SecretConfig | undefined {
  const name = msg.name ?? '';
  if (name === '') problems.error(`${path}.name`, 'must be non-empty');
  checkFields(msg, path, SECRET_FIELDS, problems);
  if (msg.tls_certificate !== undefined) {
    const p = `${path}.tls_certificate`;
    checkFields(msg.tls_certificate, p, CERTIFICATE_FIELDS, problems);
    const chain = pemOf(msg.tls_certificate.certificate_chain, `${p}.certificate_chain`, problems);
    const key = pemOf(msg.tls_certificate.private_key, `${p}.private_key`, problems);
    if (chain === undefined || key === undefined) return undefined;
    const checked = checkKeyPair(chain, key, Date.now());
    if (checked.chain !== undefined) problems.error(`${p}.certificate_chain`, checked.chain);
    if (checked.key !== undefined) problems.error(`${p}.private_key`, checked.key);
    for (const w of checked.warnings) problems.warning(`${p}.certificate_chain`, w);
    if (!problems.ok) return undefined;
    return Object.freeze({ kind: 'tls_certificate', name, certificateChain: chain, privateKey: key });
  }
  if (msg.validation_context !== undefined) {
    const p = `${path}.validation_context`;
    checkFields(msg.validation_context, p, VALIDATION_FIELDS, problems);
    const ca = pemOf(msg.validation_context.trusted_ca, `${p}.trusted_ca`, problems);
    if (ca === undefined) return undefined;
    const certs = parseCertificates(ca);
    if (!certs.ok) problems.error(`${p}.trusted_ca`, certs.error);
    if (!problems.ok) return undefined;
    return Object.freeze({ kind: 'validation_context', name, trustedCa: ca });
  }
  problems.error(path, 'expected tls_certificate or validation_context');
  return undefined;
}

const CONTEXT_FIELDS = fieldSet('common_tls_context', 'require_client_certificate');
const COMMON_FIELDS = fieldSet(
  'tls_certificate_sds_secret_configs',
  'validation_context_sds_secret_config',
  'combined_validation_context',
  'alpn_protocols',
  'tls_params',
);
const COMBINED_FIELDS = fieldSet('default_validation_context', 'validation_context_sds_secret_config');
const DEFAULT_VALIDATION_FIELDS = fieldSet(
  'match_typed_subject_alt_names',
  'match_subject_alt_names',
  'verify_certificate_spki',
  'verify_certificate_hash',
);
const TYPED_SAN_FIELDS = fieldSet('san_type', 'matcher');
/** SubjectAltNameMatcher.SanType -> how node names the type in `subjectaltname`. */
const SAN_TYPES: Record<string, SubjectAltNameMatch['type']> = {
  EMAIL: 'email',
  DNS: 'DNS',
  URI: 'URI',
  IP_ADDRESS: 'IP Address',
};
const VERSION_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const PARAMS_FIELDS = fieldSet(
  'tls_minimum_protocol_version',
  'tls_maximum_protocol_version',
  'cipher_suites',
);
const SDS_FIELDS = fieldSet('name', 'sds_config');

/** Envoy's TlsProtocol -> node's SecureVersion; TLS_AUTO: node's default. */
const VERSIONS: Record<string, DownstreamTlsConfig['minVersion']> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

function sdsName(msg: SdsSecretConfigMsg, path: string, problems: Problems): string | undefined {
  checkFields(msg, path, SDS_FIELDS, problems);
  if (!msg.name) {
    problems.error(`${path}.name`, 'must be non-empty');
    return undefined;
  }
  if (msg.sds_config?.ads === undefined)
    problems.error(`${path}.sds_config`, 'secrets come over ADS only (sds_config: { ads: {} })');
  return msg.name;
}

function version(v: string | undefined, path: string, problems: Problems): DownstreamTlsConfig['minVersion'] {
  if (v === undefined || v === 'TLS_AUTO') return undefined;
  const out = VERSIONS[v];
  if (out === undefined) problems.error(path, `unknown TLS version ${JSON.stringify(v)}`);
  return out;
}

/** A filter chain's transport_socket: envoy.transport_sockets.tls with a DownstreamTlsContext. */
export function convertDownstreamTls(
  socket: { name?: string; typed_config?: AnyLike },
  path: string,
  problems: Problems,
): DownstreamTlsConfig | undefined {
  const any = socket.typed_config;
  if (any?.type_url !== TYPE.downstreamTls) {
    problems.error(
      `${path}.typed_config`,
      `transport socket ${JSON.stringify(any?.type_url ?? socket.name ?? '')} is not supported (DownstreamTlsContext is)`,
    );
    return undefined;
  }
  const msg = unpackAny<DownstreamTlsContextMsg>(any);
  const p = `${path}.typed_config`;
  checkFields(msg, p, CONTEXT_FIELDS, problems);
  const common = msg.common_tls_context ?? {};
  const cp = `${p}.common_tls_context`;
  checkFields(common, cp, COMMON_FIELDS, problems);
  const certificateSecrets: string[] = [];
  (common.tls_certificate_sds_secret_configs ?? []).forEach((s, i) => {
    const name = sdsName(s, `${cp}.tls_certificate_sds_secret_configs[${i}]`, problems);
    if (name !== undefined) certificateSecrets.push(name);
  });
  if ((common.tls_certificate_sds_secret_configs ?? []).length === 0)
    problems.error(`${cp}.tls_certificate_sds_secret_configs`, 'a server certificate (over SDS) is required');
  const out: DownstreamTlsConfig = {
    certificateSecrets: Object.freeze(certificateSecrets),
    requireClientCertificate: msg.require_client_certificate?.value === true,
    alpn: Object.freeze([...(common.alpn_protocols ?? [])]),
  };
  if (common.validation_context_sds_secret_config !== undefined) {
    const name = sdsName(
      common.validation_context_sds_secret_config,
      `${cp}.validation_context_sds_secret_config`,
      problems,
    );
    if (name !== undefined) out.validationSecret = name;
  }
  const combined = common.combined_validation_context;
  if (combined !== undefined) {
    const vp = `${cp}.combined_validation_context`;
    checkFields(combined, vp, COMBINED_FIELDS, problems);
    if (common.validation_context_sds_secret_config !== undefined)
      problems.error(vp, 'only one of validation_context_sds_secret_config and combined_validation_context');
    if (combined.validation_context_sds_secret_config === undefined) {
      problems.error(`${vp}.validation_context_sds_secret_config`, 'required (the CA, over SDS)');
    } else {
      const name = sdsName(
        combined.validation_context_sds_secret_config,
        `${vp}.validation_context_sds_secret_config`,
        problems,
      );
      if (name !== undefined) out.validationSecret = name;
    }
    if (combined.default_validation_context !== undefined)
      clientChecks(combined.default_validation_context, `${vp}.default_validation_context`, out, problems);
  }
  if (out.requireClientCertificate && out.validationSecret === undefined)
    problems.error(
      `${p}.require_client_certificate`,
      'requires validation_context_sds_secret_config (the CA client certificates are checked against)',
    );
  const params = common.tls_params;
  if (params !== undefined) {
    checkFields(params, `${cp}.tls_params`, PARAMS_FIELDS, problems);
    const min = version(
      params.tls_minimum_protocol_version,
      `${cp}.tls_params.tls_minimum_protocol_version`,
      problems,
    );
    const max = version(
      params.tls_maximum_protocol_version,
      `${cp}.tls_params.tls_maximum_protocol_version`,
      problems,
    );
    if (min !== undefined) out.minVersion = min;
    if (max !== undefined) out.maxVersion = max;
    if ((params.cipher_suites ?? []).length > 0) out.ciphers = (params.cipher_suites ?? []).join(':');
    checkParams(params.cipher_suites ?? [], out, `${cp}.tls_params`, problems);
  }
  return Object.freeze(out);
}

/**
 * What OpenSSL would refuse at every handshake, refused now: a cipher it does not know (it
 * silently drops unknown names from a list, so each is tried alone), no cipher at all, and a
 * minimum version above the maximum.
 */
function checkParams(
  ciphers: readonly string[],
  out: DownstreamTlsConfig,
  path: string,
  problems: Problems,
): void {
  const attempt = (options: tls.SecureContextOptions): string | undefined => {
    try {
      tls.createSecureContext(options);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  ciphers.forEach((c, i) => {
    const error = c.trim() === '' ? 'must not be empty' : attempt({ ciphers: c });
    if (error !== undefined)
      problems.error(
        `${path}.cipher_suites[${i}]`,
        `cipher suite ${JSON.stringify(c)} is not supported: ${error}`,
      );
  });
  const { minVersion, maxVersion } = out;
  if (
    minVersion !== undefined &&
    maxVersion !== undefined &&
    VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)
  ) {
    problems.error(
      `${path}.tls_minimum_protocol_version`,
      `${minVersion} is above tls_maximum_protocol_version ${maxVersion}`,
    );
    return;
  }
  if (!problems.ok) return;
  const error = attempt({
    ...(out.ciphers !== undefined ? { ciphers: out.ciphers } : {}),
    ...(minVersion !== undefined ? { minVersion } : {}),
    ...(maxVersion !== undefined ? { maxVersion } : {}),
  });
  if (error !== undefined) problems.error(path, `OpenSSL refuses these parameters: ${error}`);
}

/** default_validation_context: the SAN, SPKI and certificate hash checks on client certificates. */
function clientChecks(
  v: ValidationContextMsg,
  path: string,
  out: DownstreamTlsConfig,
  problems: Problems,
): void {
  checkFields(v, path, DEFAULT_VALIDATION_FIELDS, problems);
  const sans: SubjectAltNameMatch[] = [];
  const matcher = (m: StringMatcherConfig | undefined, p: string): boolean => {
    if (m === undefined) {
      problems.error(p, 'required');
      return false;
    }
    try {
      compileStringMatcher(m, p);
      return true;
    } catch (err) {
      problems.error(isTrellisError(err) ? (err.path ?? p) : p, (err as Error).message);
      return false;
    }
  };
  (v.match_typed_subject_alt_names ?? []).forEach((t, i) => {
    const p = `${path}.match_typed_subject_alt_names[${i}]`;
    checkFields(t, p, TYPED_SAN_FIELDS, problems);
    const type = SAN_TYPES[t.san_type ?? ''];
    if (type === undefined) {
      problems.error(
        `${p}.san_type`,
        `SAN type ${JSON.stringify(t.san_type ?? '')} is not supported (EMAIL, DNS, URI, IP_ADDRESS are)`,
      );
      return;
    }
    if (matcher(t.matcher, `${p}.matcher`)) sans.push({ type, matcher: t.matcher! });
  });
  (v.match_subject_alt_names ?? []).forEach((m, i) => {
    if (matcher(m, `${path}.match_subject_alt_names[${i}]`)) sans.push({ matcher: m });
  });
  if (sans.length > 0) out.subjectAltNames = Object.freeze(sans);
  const spki: string[] = [];
  (v.verify_certificate_spki ?? []).forEach((s, i) => {
    if (Buffer.from(s, 'base64').length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s))
      problems.error(
        `${path}.verify_certificate_spki[${i}]`,
        'expected the base64 SHA-256 of a SubjectPublicKeyInfo',
      );
    else spki.push(s);
  });
  if (spki.length > 0) out.spkiSha256 = Object.freeze(spki);
  const hashes: string[] = [];
  (v.verify_certificate_hash ?? []).forEach((h, i) => {
    const hex = h.replaceAll(':', '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex))
      problems.error(
        `${path}.verify_certificate_hash[${i}]`,
        'expected the hex SHA-256 of a certificate (colons allowed)',
      );
    else hashes.push(hex);
  });
  if (hashes.length > 0) out.certificateSha256 = Object.freeze(hashes);
}

/** SDS names the listener's TLS filter chains reference (certificates and CAs). */
export function referencedSecretNames(l: ListenerConfig): string[] {
  const out: string[] = [];
  for (const c of l.filterChains) {
    if (c.tls === undefined) continue;
    out.push(...c.tls.certificateSecrets);
    if (c.tls.validationSecret !== undefined) out.push(c.tls.validationSecret);
  }
  return out;
}
