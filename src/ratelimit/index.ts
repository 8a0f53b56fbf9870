/**
 * The global rate limit service: what the CLI and the control plane use.
 *
 *   const service = new RateLimitService({ backend: new RedisBackend({ url }) });
 *   service.setConfig([{ domain: 'edge', descriptors: [...] }]);
 *   const server = new RateLimitServer({ service, grpcAddress, httpAddress });
 *   await server.start(); ... await server.stop(); await service.close();
 */
export { RateLimitService } from './service.js';
export type {
  DescriptorStatus,
  RateLimitRequest,
  RateLimitResponse,
  RateLimitServiceOptions,
} from './service.js';
export { RateLimitServer } from './server.js';
export type { HostPort, ListeningAddresses, RateLimitServerOptions } from './server.js';
export { MemoryBackend } from './backend/memory.js';
export { RedisBackend } from './backend/redis.js';
export type { RedisBackendOptions } from './backend/redis.js';
export type { RateLimitBackend } from './backend/backend.js';
export { ConfigFileWatcher, loadConfigPath } from './config-files.js';
export { validateDomains, parseConfigYaml } from './config.js';
export type { Algorithm, DomainConfig, DescriptorConfig, RateLimitBlock } from './config.js';
export { RateLimitMetrics } from './metrics.js';
