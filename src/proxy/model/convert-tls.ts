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
import type {
  ClusterConfig,
  DownstreamTlsConfig,
  ListenerConfig,
  PeerCertificateChecks,
  SecretConfig,
  SecretRef,
  SubjectAltNameMatch,
  UpstreamTlsConfig,
} from './config.js';
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
  sds_config?: {
    ads?: object;
    api_config_source?: {
      api_type?: string;
      transport_api_version?: string;
      grpc_services?: {
        envoy_grpc?: { cluster_name?: string; [f: string]: unknown };
        [f: string]: unknown;
      }[];
      [field: string]: unknown;
    };
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/**
 * What conversion needs to know about the proxy: whether it holds a workload certificate source,
 * without which `sds-grpc` references (`default`, `ROOTCA`) cannot be served and are NACKed.
 */
export interface TlsConvertOptions {
  workloadCertificates: boolean;
}

export const NO_WORKLOAD_CERTIFICATES: TlsConvertOptions = Object.freeze({ workloadCertificates: false });

/** Istio's SDS cluster: the agent beside Envoy serving the workload's own certificate. */
export const SDS_GRPC_CLUSTER = 'sds-grpc';
/** The names the workload certificate source serves (Istio's agent: `default` and `ROOTCA`). */
export const WORKLOAD_SECRET_NAMES: ReadonlySet<string> = new Set(['default', 'ROOTCA']);

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

interface CommonTlsContextMsg {
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
}

interface DownstreamTlsContextMsg {
  common_tls_context?: CommonTlsContextMsg;
  require_client_certificate?: { value?: boolean };
  [field: string]: unknown;
}

interface UpstreamTlsContextMsg {
  common_tls_context?: CommonTlsContextMsg;
  sni?: string;
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

const CONFIG_SOURCE_FIELDS = fieldSet(
  'ads',
  'api_config_source',
  'initial_fetch_timeout',
  'resource_api_version',
);
const API_SOURCE_FIELDS = fieldSet(
  'api_type',
  'transport_api_version',
  'grpc_services',
  'set_node_on_first_message_only',
);

/**
 * An SdsSecretConfig: over ADS (`sds_config: { ads: {} }`), or Istio's workload secrets through
 * `api_config_source` GRPC with envoy_grpc `sds-grpc` (served from the workload certificate
 * source, which must exist and serves only `default` and `ROOTCA`).
 */
function sdsRef(
  msg: SdsSecretConfigMsg,
  path: string,
  problems: Problems,
  options: TlsConvertOptions,
): SecretRef | undefined {
  checkFields(msg, path, SDS_FIELDS, problems);
  if (!msg.name) {
    problems.error(`${path}.name`, 'must be non-empty');
    return undefined;
  }
  const source = msg.sds_config;
  if (source === undefined) {
    problems.error(`${path}.sds_config`, 'required (inline secrets are not supported)');
    return undefined;
  }
  checkFields(source, `${path}.sds_config`, CONFIG_SOURCE_FIELDS, problems);
  if (source.ads !== undefined) return { name: msg.name, source: 'ads' };
  const api = source.api_config_source;
  const ap = `${path}.sds_config.api_config_source`;
  if (api === undefined) {
    problems.error(
      `${path}.sds_config`,
      `expected ads or api_config_source (GRPC, envoy_grpc ${SDS_GRPC_CLUSTER})`,
    );
    return undefined;
  }
  checkFields(api, ap, API_SOURCE_FIELDS, problems);
  if (api.api_type !== 'GRPC')
    problems.error(`${ap}.api_type`, `only GRPC is supported, got ${api.api_type ?? 'none'}`);
  const services = api.grpc_services ?? [];
  const cluster = services[0]?.envoy_grpc?.cluster_name;
  if (services.length !== 1 || cluster !== SDS_GRPC_CLUSTER) {
    problems.error(
      `${ap}.grpc_services`,
      `only envoy_grpc cluster_name ${JSON.stringify(SDS_GRPC_CLUSTER)} (the workload's own certificates) is supported`,
    );
    return undefined;
  }
  if (!options.workloadCertificates) {
    problems.error(
      `${path}.sds_config`,
      `secret ${JSON.stringify(msg.name)} comes from ${SDS_GRPC_CLUSTER}, but this proxy has no workload certificate source`,
    );
    return undefined;
  }
  if (!WORKLOAD_SECRET_NAMES.has(msg.name)) {
    problems.error(
      `${path}.name`,
      `${SDS_GRPC_CLUSTER} serves "default" and "ROOTCA" only, not ${JSON.stringify(msg.name)}`,
    );
    return undefined;
  }
  return { name: msg.name, source: 'workload' };
}

function version(v: string | undefined, path: string, problems: Problems): DownstreamTlsConfig['minVersion'] {
  if (v === undefined || v === 'TLS_AUTO') return undefined;
  const out = VERSIONS[v];
  if (out === undefined) problems.error(path, `unknown TLS version ${JSON.stringify(v)}`);
  return out;
}

/** The parts of a CommonTlsContext both sides share. */
interface CommonConfig {
  certificates: SecretRef[];
  validation?: SecretRef;
  checks: PeerCertificateChecks;
  alpn: readonly string[];
  minVersion?: DownstreamTlsConfig['minVersion'];
  maxVersion?: DownstreamTlsConfig['maxVersion'];
  ciphers?: string;
}

function commonContext(
  common: CommonTlsContextMsg,
  cp: string,
  problems: Problems,
  options: TlsConvertOptions,
): CommonConfig {
  checkFields(common, cp, COMMON_FIELDS, problems);
  const out: CommonConfig = {
    certificates: [],
    checks: {},
    alpn: Object.freeze([...(common.alpn_protocols ?? [])]),
  };
  (common.tls_certificate_sds_secret_configs ?? []).forEach((s, i) => {
    const ref = sdsRef(s, `${cp}.tls_certificate_sds_secret_configs[${i}]`, problems, options);
    if (ref !== undefined) out.certificates.push(ref);
  });
  if (common.validation_context_sds_secret_config !== undefined) {
    const ref = sdsRef(
      common.validation_context_sds_secret_config,
      `${cp}.validation_context_sds_secret_config`,
      problems,
      options,
    );
    if (ref !== undefined) out.validation = ref;
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
      const ref = sdsRef(
        combined.validation_context_sds_secret_config,
        `${vp}.validation_context_sds_secret_config`,
        problems,
        options,
      );
      if (ref !== undefined) out.validation = ref;
    }
    if (combined.default_validation_context !== undefined)
      peerChecks(
        combined.default_validation_context,
        `${vp}.default_validation_context`,
        out.checks,
        problems,
      );
  }
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
  return out;
}

function versionFields(c: CommonConfig): Pick<DownstreamTlsConfig, 'minVersion' | 'maxVersion' | 'ciphers'> {
  return {
    ...(c.minVersion !== undefined ? { minVersion: c.minVersion } : {}),
    ...(c.maxVersion !== undefined ? { maxVersion: c.maxVersion } : {}),
    ...(c.ciphers !== undefined ? { ciphers: c.ciphers } : {}),
  };
}

/** A filter chain's transport_socket: envoy.transport_sockets.tls with a DownstreamTlsContext. */
export function convertDownstreamTls(
  socket: { name?: string; typed_config?: AnyLike },
  path: string,
  problems: Problems,
  options: TlsConvertOptions = NO_WORKLOAD_CERTIFICATES,
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
  const cp = `${p}.common_tls_context`;
  const common = commonContext(msg.common_tls_context ?? {}, cp, problems, options);
  if ((msg.common_tls_context?.tls_certificate_sds_secret_configs ?? []).length === 0)
    problems.error(`${cp}.tls_certificate_sds_secret_configs`, 'a server certificate (over SDS) is required');
  const out: DownstreamTlsConfig = {
    certificateSecrets: Object.freeze(common.certificates),
    requireClientCertificate: msg.require_client_certificate?.value === true,
    alpn: common.alpn,
    ...versionFields(common),
    ...common.checks,
  };
  if (common.validation !== undefined) out.validationSecret = common.validation;
  if (out.requireClientCertificate && out.validationSecret === undefined)
    problems.error(
      `${p}.require_client_certificate`,
      'requires validation_context_sds_secret_config (the CA client certificates are checked against)',
    );
  return Object.freeze(out);
}

const UPSTREAM_CONTEXT_FIELDS = fieldSet('common_tls_context', 'sni');
const TRANSPORT_SOCKET_FIELDS = fieldSet('name', 'typed_config');
export const RAW_BUFFER = 'envoy.transport_sockets.raw_buffer';
const RAW_BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

/**
 * A cluster's transport socket: raw_buffer (undefined: plain text) or envoy.transport_sockets.tls
 * with an UpstreamTlsContext; `null` when it was refused (the problems say why).
 */
export function convertUpstreamTransport(
  socket: { name?: string; typed_config?: AnyLike },
  path: string,
  problems: Problems,
  options: TlsConvertOptions = NO_WORKLOAD_CERTIFICATES,
): UpstreamTlsConfig | undefined | null {
  checkFields(socket, path, TRANSPORT_SOCKET_FIELDS, problems);
  const any = socket.typed_config;
  if (any === undefined ? socket.name === RAW_BUFFER : any.type_url === RAW_BUFFER_TYPE) return undefined;
  if (any === undefined) {
    problems.error(
      `${path}.typed_config`,
      `transport socket ${JSON.stringify(socket.name ?? '')} needs typed_config (an UpstreamTlsContext, or raw_buffer)`,
    );
    return null;
  }
  if (any.type_url !== TYPE.upstreamTls) {
    problems.error(
      `${path}.typed_config`,
      `transport socket ${JSON.stringify(any.type_url ?? '')} is not supported (raw_buffer and UpstreamTlsContext are)`,
    );
    return null;
  }
  const msg = unpackAny<UpstreamTlsContextMsg>(any);
  const p = `${path}.typed_config`;
  checkFields(msg, p, UPSTREAM_CONTEXT_FIELDS, problems);
  const cp = `${p}.common_tls_context`;
  const common = commonContext(msg.common_tls_context ?? {}, cp, problems, options);
  if (common.certificates.length > 1)
    problems.error(`${cp}.tls_certificate_sds_secret_configs`, 'a client sends at most one certificate');
  if (!problems.ok) return null;
  const out: UpstreamTlsConfig = {
    key: '',
    alpn: common.alpn,
    ...versionFields(common),
    ...common.checks,
  };
  if (msg.sni) out.sni = msg.sni;
  if (common.certificates[0] !== undefined) out.certificate = common.certificates[0];
  if (common.validation !== undefined) out.validation = common.validation;
  out.key = JSON.stringify(out);
  return Object.freeze(out);
}

/**
 * What OpenSSL would refuse at every handshake, refused now: a cipher it does not know (it
 * silently drops unknown names from a list, so each is tried alone), no cipher at all, and a
 * minimum version above the maximum.
 */
function checkParams(
  ciphers: readonly string[],
  out: Pick<DownstreamTlsConfig, 'minVersion' | 'maxVersion' | 'ciphers'>,
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

/** default_validation_context: the SAN, SPKI and certificate hash checks on peer certificates. */
function peerChecks(
  v: ValidationContextMsg,
  path: string,
  out: PeerCertificateChecks,
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

/** SDS names (over ADS) the listener's TLS filter chains reference (certificates and CAs). */
export function referencedSecretNames(l: ListenerConfig): string[] {
  const out: string[] = [];
  for (const c of l.filterChains) {
    if (c.tls === undefined) continue;
    for (const ref of c.tls.certificateSecrets) if (ref.source === 'ads') out.push(ref.name);
    if (c.tls.validationSecret?.source === 'ads') out.push(c.tls.validationSecret.name);
  }
  return out;
}

/** SDS names (over ADS) a cluster's TLS contexts reference (DestinationRule credentialName). */
export function clusterSecretNames(c: ClusterConfig): string[] {
  const out: string[] = [];
  for (const t of [c.tls, ...(c.transportSocketMatches ?? []).map((m) => m.tls)]) {
    if (t?.certificate?.source === 'ads') out.push(t.certificate.name);
    if (t?.validation?.source === 'ads') out.push(t.validation.name);
  }
  return out;
}
