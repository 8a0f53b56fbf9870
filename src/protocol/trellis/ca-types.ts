/**
 * The messages of trellis/ca.proto as they cross the wire through grpc-services.ts (snake_case
 * plain objects; int64 as number, CONVERSION in protos.ts). Written by hand: three fields each.
 */
export interface CreateCertificateRequest {
  csr?: string;
  validity_duration?: number;
}

export interface CreateCertificateResponse {
  cert_chain?: string[];
  trust_bundle?: string[];
  credential?: string;
}

/** gRPC metadata key carrying `Bearer <credential>`. */
export const CA_AUTHORIZATION_HEADER = 'authorization';
