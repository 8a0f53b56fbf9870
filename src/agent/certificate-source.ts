/**
 * What the agent needs from a workload certificate source: the feed the proxy's
 * WorkloadCertificateSource also provides (one shape, in ca/workload-certificate.ts), so the
 * agent layer does not depend on the data plane: `trellis agent` hands it the same CaClient the
 * proxy uses (cli composes the two), and tests hand it a fixed source.
 */
import type { WorkloadCertificate, WorkloadCertificateFeed } from '../ca/workload-certificate.js';

export type AgentCertificate = WorkloadCertificate;
export type AgentCertificateSource = WorkloadCertificateFeed;
