/**
 * The CA served to workloads: trellis.ca.v1.CertificateService/CreateCertificate on the control
 * plane's gRPC port, beside ADS.
 *
 * A request carries `authorization: Bearer <credential>` (src/ca/credentials.ts) and a CSR. The
 * certificate names the credential's identity, never one the CSR asks for: a CSR whose URI SANs
 * name anyone else is refused (Istio's CA API requires the server to check the caller may have
 * every SAN of the CSR). Validity: the request's, 0 for the CA's default, capped at the maximum.
 *
 * Errors are gRPC statuses with a message that says what to do: UNAUTHENTICATED (missing,
 * malformed, forged, expired, wrong-audience credential), PERMISSION_DENIED (the CSR names
 * another identity), INVALID_ARGUMENT (a CSR that does not parse, verify, or has a weak key; a
 * negative validity), INTERNAL (the CA cannot sign, e.g. its intermediate expired).
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { CertificateAuthority } from '../ca/authority.js';
import { CredentialError, type CredentialAuthority, type VerifiedCredential } from '../ca/credentials.js';
import { x509 } from '../ca/x509.js';
import { errorMessage, isTrellisError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import type { Counter, MetricsRegistry } from '../core/metrics.js';
import { certificateService } from '../protocol/grpc-services.js';
import {
  CA_AUTHORIZATION_HEADER,
  type CreateCertificateRequest,
  type CreateCertificateResponse,
} from '../protocol/trellis/ca-types.js';

/** A P-256 CSR is under 1 KiB and an RSA-4096 one about 2; anything near this is not a CSR. */
export const MAX_CSR_BYTES = 16 * 1024;
/** Our credentials are about 600 bytes. */
export const MAX_CREDENTIAL_BYTES = 8 * 1024;

/** Istio's default maximum workload certificate lifetime (MAX_WORKLOAD_CERT_TTL): 90 days. */
export const DEFAULT_MAX_WORKLOAD_TTL_SECONDS = 90 * 86_400;

export interface CaServiceOptions {
  authority: CertificateAuthority;
  credentials: CredentialAuthority;
  /** Requests for longer are shortened to this. Default 90 days; keep it at most the CA's maximum. */
  maxTtlSeconds?: number;
  metrics: MetricsRegistry;
  logger?: Logger;
}

export type RefusalReason =
  'unauthenticated' | 'identity_mismatch' | 'invalid_csr' | 'invalid_validity' | 'sign_error';

/** A refused request: the gRPC status to answer with and why, for the metric. */
export class CaRequestError extends Error {
  constructor(
    readonly status: grpc.status,
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'CaRequestError';
  }
}

interface CaMetrics {
  requests: Counter;
  issued: Counter;
  authFailures: Counter;
  csrErrors: Counter;
  results: Counter;
}

function caMetrics(m: MetricsRegistry): CaMetrics {
  return {
    // Istio's citadel_server_* names, so existing dashboards read them.
    requests: m.counter('citadel_server_csr_count', 'Certificate signing requests received'),
    issued: m.counter('citadel_server_success_cert_issuance_count', 'Workload certificates issued'),
    authFailures: m.counter(
      'citadel_server_authentication_failure_count',
      'Certificate requests refused because the credential did not authenticate',
    ),
    csrErrors: m.counter('citadel_server_csr_parsing_err_count', 'Certificate requests with an unusable CSR'),
    results: m.counter(
      'trellis_ca_certificate_requests_total',
      'Certificate requests by result (issued, refused) and refusal reason',
      ['result', 'reason'],
    ),
  };
}

/** `Bearer <token>` from the request metadata, exactly once. */
export function bearerToken(values: readonly (string | Buffer)[]): string {
  if (values.length === 0)
    throw new CaRequestError(
      grpc.status.UNAUTHENTICATED,
      'unauthenticated',
      'no credential: send "authorization: Bearer <credential>" (trellis proxy --credential-file)',
    );
  if (values.length > 1)
    throw new CaRequestError(
      grpc.status.UNAUTHENTICATED,
      'unauthenticated',
      'more than one authorization header',
    );
  const header = String(values[0]);
  if (header.length > MAX_CREDENTIAL_BYTES)
    throw new CaRequestError(
      grpc.status.UNAUTHENTICATED,
      'unauthenticated',
      `the credential is longer than ${MAX_CREDENTIAL_BYTES} bytes`,
    );
  const m = /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(header);
  if (m === null)
    throw new CaRequestError(
      grpc.status.UNAUTHENTICATED,
      'unauthenticated',
      'the authorization header is not "Bearer <credential>"',
    );
  return m[1] as string;
}

/** URI SANs of a CSR's extension request (empty when it has none). */
export function csrUriSans(csrPem: string): string[] {
  let req: x509.Pkcs10CertificateRequest;
  try {
    req = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CaRequestError(
      grpc.status.INVALID_ARGUMENT,
      'invalid_csr',
      'csr: not a PEM PKCS#10 certificate request',
    );
  }
  const names: string[] = [];
  // Extensions are parsed lazily by @peculiar/x509: any of them may throw here.
  try {
    for (const ext of req.extensions) {
      if (ext.type !== '2.5.29.17') continue; // subjectAltName
      const san = new x509.SubjectAlternativeNameExtension(ext.rawData);
      for (const n of san.names.items) if (n.type === 'url') names.push(n.value);
    }
  } catch {
    throw new CaRequestError(
      grpc.status.INVALID_ARGUMENT,
      'invalid_csr',
      'csr: the subjectAltName extension cannot be read',
    );
  }
  return names;
}

export class CaService {
  private readonly m: CaMetrics;
  private readonly logger: Logger;
  private readonly maxTtl: number;

  constructor(private readonly options: CaServiceOptions) {
    this.m = caMetrics(options.metrics);
    this.logger = options.logger ?? silentLogger;
    this.maxTtl = options.maxTtlSeconds ?? DEFAULT_MAX_WORKLOAD_TTL_SECONDS;
    // Istio's expiry gauges (seconds since the epoch): what to alert on before a rotation is due.
    const expiry = (pem: string | undefined) =>
      pem ? Date.parse(new X509Certificate(pem).validTo) / 1000 : 0;
    const root = options.metrics.gauge(
      'citadel_server_root_cert_expiry_timestamp',
      'When the CA root expires (s)',
    );
    const chain = options.metrics.gauge(
      'citadel_server_cert_chain_expiry_timestamp',
      'When the CA issuing certificate (intermediate) expires (s)',
    );
    options.metrics.onCollect(() => {
      root.set({}, expiry(options.authority.trustBundle()[0]));
      chain.set({}, expiry(options.authority.issuerPem));
    });
  }

  /** For AdsServerOptions.services. */
  grpcService(): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
    return {
      definition: certificateService(),
      implementation: {
        CreateCertificate: (
          call: grpc.ServerUnaryCall<CreateCertificateRequest, CreateCertificateResponse>,
          callback: grpc.sendUnaryData<CreateCertificateResponse>,
        ) => {
          this.createCertificate(
            call.request,
            call.metadata.get(CA_AUTHORIZATION_HEADER),
            call.getPeer(),
          ).then(
            (res) => callback(null, res),
            // createCertificate turns every failure into a CaRequestError (and counts it).
            (e: CaRequestError) => callback({ code: e.status, details: e.message }),
          );
        },
      },
    };
  }

  /** Authenticates, checks and signs one request; throws CaRequestError when refused. */
  async createCertificate(
    request: CreateCertificateRequest,
    authorization: readonly (string | Buffer)[],
    peer = '',
  ): Promise<CreateCertificateResponse> {
    this.m.requests.inc();
    let who: VerifiedCredential | undefined;
    try {
      who = await this.authenticate(authorization);
      const res = await this.sign(request, who);
      this.m.issued.inc();
      this.m.results.inc({ result: 'issued', reason: '' });
      return res;
    } catch (err) {
      const e =
        err instanceof CaRequestError
          ? err
          : new CaRequestError(
              grpc.status.INTERNAL,
              'sign_error',
              `the CA cannot sign: ${errorMessage(err)}`,
            );
      if (e.reason === 'unauthenticated') this.m.authFailures.inc();
      if (e.reason === 'invalid_csr') this.m.csrErrors.inc();
      this.m.results.inc({ result: 'refused', reason: e.reason });
      // Never log the credential: it is a bearer secret.
      this.logger.warn('certificate request refused', {
        reason: e.reason,
        error: e.message,
        peer,
        ...(who ? { identity: who.spiffeId } : {}),
      });
      throw e;
    }
  }

  private async authenticate(authorization: readonly (string | Buffer)[]): Promise<VerifiedCredential> {
    const token = bearerToken(authorization);
    try {
      return await this.options.credentials.verify(token);
    } catch (err) {
      const why = err instanceof CredentialError ? err.message : errorMessage(err);
      throw new CaRequestError(grpc.status.UNAUTHENTICATED, 'unauthenticated', `credential refused: ${why}`);
    }
  }

  private async sign(
    request: CreateCertificateRequest,
    who: VerifiedCredential,
  ): Promise<CreateCertificateResponse> {
    const csr = request.csr ?? '';
    if (csr === '')
      throw new CaRequestError(
        grpc.status.INVALID_ARGUMENT,
        'invalid_csr',
        'csr: required (a PEM PKCS#10 request)',
      );
    if (csr.length > MAX_CSR_BYTES)
      throw new CaRequestError(
        grpc.status.INVALID_ARGUMENT,
        'invalid_csr',
        `csr: ${csr.length} bytes; a certificate request is at most ${MAX_CSR_BYTES}`,
      );
    const asked = Number(request.validity_duration ?? 0);
    if (!Number.isFinite(asked) || asked < 0)
      throw new CaRequestError(
        grpc.status.INVALID_ARGUMENT,
        'invalid_validity',
        `validity_duration: expected seconds >= 0 (0: the CA's default), got ${String(request.validity_duration)}`,
      );
    for (const uri of csrUriSans(csr)) {
      if (uri !== who.spiffeId)
        throw new CaRequestError(
          grpc.status.PERMISSION_DENIED,
          'identity_mismatch',
          `the CSR asks for ${uri} but the credential is for ${who.spiffeId}`,
        );
    }
    let chain;
    try {
      chain = await this.options.authority.signCsr(csr, {
        identity: who.identity,
        ...(asked > 0 ? { ttlSeconds: Math.min(asked, this.maxTtl) } : {}),
      });
    } catch (err) {
      if (isTrellisError(err, 'TRELLIS_INVALID_ARGUMENT') || isTrellisError(err, 'TRELLIS_UNSUPPORTED'))
        throw new CaRequestError(grpc.status.INVALID_ARGUMENT, 'invalid_csr', err.describe());
      throw new CaRequestError(
        grpc.status.INTERNAL,
        'sign_error',
        `the CA cannot sign: ${errorMessage(err)}`,
      );
    }
    const leaf = new X509Certificate(chain.certChainPem[0] as string);
    this.logger.info('certificate issued', {
      identity: who.spiffeId,
      credential: who.kind,
      serial: leaf.serialNumber,
      notAfter: new Date(leaf.validTo).toISOString(),
    });
    const res: CreateCertificateResponse = {
      cert_chain: chain.certChainPem,
      trust_bundle: this.options.authority.trustBundle(),
    };
    // A join token is for joining: give the host a workload credential for its renewals.
    if (who.kind === 'join')
      res.credential = await this.options.credentials.issue({
        namespace: who.identity.namespace,
        serviceAccount: who.identity.serviceAccount,
        kind: 'workload',
      });
    return res;
  }
}
