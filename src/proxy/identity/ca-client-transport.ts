/**
 * One CreateCertificate call to the control plane's CA (trellis.ca.v1.CertificateService) over
 * gRPC, with the credential as `authorization: Bearer` metadata and a deadline. The CA client
 * (ca-client.ts) decides when to call; this only makes the call.
 */
import * as grpc from '@grpc/grpc-js';
import { certificateService } from '../../protocol/grpc-services.js';
import { channelCredentials, tlsFailureHint, type ControlPlaneTls } from '../xds-client/control-plane-tls.js';
import {
  CA_AUTHORIZATION_HEADER,
  type CreateCertificateRequest,
  type CreateCertificateResponse,
} from '../../protocol/trellis/ca-types.js';

export interface CertificateRequester {
  request(req: CreateCertificateRequest, credential: string): Promise<CreateCertificateResponse>;
  close(): void;
}

/** A gRPC failure as the CA answered it: `code` is the gRPC status (UNAUTHENTICATED = 16...). */
export class CaCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'CaCallError';
  }
}

/**
 * Calls the CA at `address` (host:port, gRPC as ADS: plaintext, or TLS with `tls`). Default deadline 10 s.
 *
 * grpc-js backs off reconnecting by itself (1 s growing to 120 s), and a call on a channel still
 * backing off fails without dialing: after a long outage the CA client's own retries could keep
 * failing for up to two more minutes. The channel's backoff is capped at `reconnectMaxMs`
 * (default 5 s), so the CA client's backoff (ca-client.ts) decides when a request is made.
 */
export function grpcCertificateRequester(
  address: string,
  options: { deadlineMs?: number; reconnectMaxMs?: number; tls?: ControlPlaneTls } = {},
): CertificateRequester {
  const Client = grpc.makeGenericClientConstructor(certificateService(), 'CertificateService');
  const client = new Client(address, channelCredentials(options.tls), {
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': Math.max(500, options.reconnectMaxMs ?? 5000),
  });
  const method = certificateService().CreateCertificate as grpc.MethodDefinition<
    CreateCertificateRequest,
    CreateCertificateResponse
  >;
  return {
    request(req, credential) {
      const metadata = new grpc.Metadata();
      metadata.set(CA_AUTHORIZATION_HEADER, `Bearer ${credential}`);
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          req,
          metadata,
          { deadline: Date.now() + (options.deadlineMs ?? 10_000) },
          (err: grpc.ServiceError | null, res?: CreateCertificateResponse) => {
            if (err) {
              const hint = tlsFailureHint(options.tls, err.details);
              reject(
                new CaCallError(
                  err.code,
                  `${grpc.status[err.code] ?? err.code}: ${err.details}${hint ? ` (${hint})` : ''}`,
                ),
              );
            } else resolve(res ?? {});
          },
        );
      });
    },
    close: () => client.close(),
  };
}

/**
 * Several CAs (the control planes of `--xds-address A,B`): a request goes to the one that last
 * answered; when it is unreachable (UNAVAILABLE or DEADLINE_EXCEEDED) the next is asked, once
 * each. An answer with any other failure (UNAUTHENTICATED, a refused CSR) is the CA's verdict
 * and is not asked again elsewhere.
 */
export function failoverCertificateRequester(
  requesters: readonly CertificateRequester[],
): CertificateRequester {
  if (requesters.length === 1) return requesters[0]!;
  let current = 0;
  return {
    async request(req, credential) {
      let last: unknown;
      for (let i = 0; i < requesters.length; i++) {
        const at = (current + i) % requesters.length;
        try {
          const res = await requesters[at]!.request(req, credential);
          current = at;
          return res;
        } catch (err) {
          last = err;
          const code = err instanceof CaCallError ? err.code : undefined;
          if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED) throw err;
        }
      }
      throw last;
    },
    close: () => requesters.forEach((r) => r.close()),
  };
}
