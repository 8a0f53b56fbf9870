/**
 * The global rate limit service: what the CLI and the control plane use.
 *
 *   const service = new RateLimitService({ backend: new RedisBackend({ url }) });
 *   service.setConfig([{ domain: 'edge', descriptors: [...] }]);
 *   const server = new RateLimitServer({ service, grpcAddress, httpAddress });
 *   await server.start(); ... await server.stop(); await service.close();
 *
 * Or configured by the control plane (GET <url>/v1/ratelimit/config, polled):
 *   new ControlPlaneConfigPoller({ url: 'http://127.0.0.1:15014', service }).start();
 */
export { RateLimitService } from './service.js';
export type {
  DescriptorStatus,
  RateLimitRequest,
  RateLimitResponse,
  RateLimitServiceOptions,
} from './service.js';
export { GRPC_IMPLS, RateLimitServer } from './server.js';
export type { GrpcImpl, HostPort, ListeningAddresses, RateLimitServerOptions } from './server.js';
export { FastRateLimitGrpcServer, SHOULD_RATE_LIMIT_PATH } from './grpc/fast-server.js';
export { ControlPlaneConfigPoller, CONFIG_PATH } from './config-control-plane.js';
export type { ControlPlaneConfigOptions, PollOutcome } from './config-control-plane.js';
export { MemoryBackend } from './backend/memory.js';
export { RedisBackend } from './backend/redis.js';
export type { RedisBackendOptions } from './backend/redis.js';
export type { RateLimitBackend } from './backend/backend.js';
export { ConfigFileWatcher, loadConfigPath } from './config-files.js';
export { validateDomains, parseConfigYaml } from './config.js';
export type { Algorithm, DomainConfig, DescriptorConfig, RateLimitBlock } from './config.js';
export { RateLimitMetrics } from './metrics.js';
