import { tryParseDuration } from '../../core/duration.js';
import { TrellisError, errorMessage } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { ALGORITHMS, type Algorithm } from '../../ratelimit/config.js';
import { ConfigFileWatcher } from '../../ratelimit/config-files.js';
import { ControlPlaneConfigPoller } from '../../ratelimit/config-control-plane.js';
import { MemoryBackend } from '../../ratelimit/backend/memory.js';
import { RedisBackend } from '../../ratelimit/backend/redis.js';
import type { RateLimitBackend } from '../../ratelimit/backend/backend.js';
import { GRPC_IMPLS, RateLimitServer, type GrpcImpl } from '../../ratelimit/server.js';
import { RateLimitService } from '../../ratelimit/service.js';
import { parseAddress, parseFlags, parseIntFlag } from '../args.js';
import type { Command } from '../command.js';

const USAGE = `Usage: trellis ratelimit --config FILE|DIR [flags]
       trellis ratelimit --control-plane URL [flags]

Serves Envoy's envoy.service.ratelimit.v3.RateLimitService over gRPC, configured with
envoyproxy/ratelimit's YAML (one domain per file or document), reloaded when the files change,
or with the configuration the control plane derives from RateLimit resources.

Flags:
  --config FILE|DIR          rate limit configuration; a directory loads every *.yaml
  --control-plane URL        instead of --config: poll URL/v1/ratelimit/config (e.g. http://127.0.0.1:15014)
  --poll-interval DURATION   how often to poll the control plane (default 2s)
  --grpc-impl fast|grpc-js   gRPC server: the hand-written fast one (default) or @grpc/grpc-js
  --grpc-address HOST:PORT   gRPC listen address (default 127.0.0.1:8081; --grpc-port N: 127.0.0.1:N)
  --http-address HOST:PORT   /metrics, /ready, /config (default 127.0.0.1:6070, the debug port of
                             envoyproxy/ratelimit; 8080 is bookinfo's gateway; --http-port N)
  --redis URL                keep counters in Redis, e.g. redis://127.0.0.1:6379 (default: memory)
  --redis-cluster H:P,...    keep counters in a Redis Cluster (seed nodes)
  --redis-timeout-ms N       fail a Redis call after N ms (default 1000)
  --failure-mode-deny        answer OVER_LIMIT while Redis is unreachable (default: allow)
  --algorithm NAME           token_bucket (default) or fixed_window, for limits naming none
  --response-headers         add x-ratelimit-limit/remaining/reset to responses`;

export const command: Command = {
  name: 'ratelimit',
  summary: 'Run the global rate limit service (Envoy RLS API; memory or Redis).',
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseFlags('ratelimit', argv, {
      config: { type: 'string' },
      'control-plane': { type: 'string' },
      'poll-interval': { type: 'string', default: '2s' },
      'grpc-impl': { type: 'string', default: 'fast' },
      'grpc-address': { type: 'string', default: '127.0.0.1:8081', address: true, portAlias: 'grpc-port' },
      'http-address': { type: 'string', default: '127.0.0.1:6070', address: true, portAlias: 'http-port' },
      redis: { type: 'string' },
      'redis-cluster': { type: 'string' },
      'redis-timeout-ms': { type: 'string' },
      'failure-mode-deny': { type: 'boolean', default: false },
      algorithm: { type: 'string', default: 'token_bucket' },
      'response-headers': { type: 'boolean', default: false },
    });
    const controlPlane = values['control-plane'];
    if (!values.config === !controlPlane) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        values.config
          ? '--config and --control-plane are exclusive: the configuration comes from one of them'
          : "--config or --control-plane is required; run 'trellis ratelimit --help'",
      );
    }
    if (controlPlane !== undefined && !/^https?:\/\/[^/]+/.test(controlPlane)) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--control-plane ${JSON.stringify(controlPlane)}: expected an http:// or https:// URL`,
      );
    }
    const pollIntervalMs = tryParseDuration(values['poll-interval']);
    if (pollIntervalMs === undefined || pollIntervalMs <= 0) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--poll-interval ${JSON.stringify(values['poll-interval'])}: expected a positive duration such as 2s or 500ms`,
      );
    }
    if (!(GRPC_IMPLS as readonly string[]).includes(values['grpc-impl'])) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--grpc-impl ${JSON.stringify(values['grpc-impl'])}: expected one of ${GRPC_IMPLS.join(', ')}`,
      );
    }
    if (values.redis && values['redis-cluster']) {
      throw new TrellisError('TRELLIS_INVALID_ARGUMENT', '--redis and --redis-cluster are exclusive');
    }
    if (!(ALGORITHMS as readonly string[]).includes(values.algorithm)) {
      throw new TrellisError(
        'TRELLIS_INVALID_ARGUMENT',
        `--algorithm ${JSON.stringify(values.algorithm)}: expected one of ${ALGORITHMS.join(', ')}`,
      );
    }
    const grpcAddress = parseAddress('grpc-address', values['grpc-address']);
    const httpAddress = parseAddress('http-address', values['http-address']);
    const timeoutMs = parseIntFlag('redis-timeout-ms', values['redis-timeout-ms'], 1000);
    const logger = createLogger('ratelimit', { sink: { write: (l) => io.stderr(l) } }, io.env);
    const progress = (line: string) => io.stdout(`ratelimit: ${line}\n`);

    let backend: RateLimitBackend;
    let redis: RedisBackend | undefined;
    if (values.redis || values['redis-cluster']) {
      redis = new RedisBackend({
        url: values.redis,
        clusterNodes: values['redis-cluster']
          ?.split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        commandTimeoutMs: timeoutMs,
        logger: logger.child('redis'),
      });
      backend = redis;
    } else {
      backend = new MemoryBackend();
    }
    const service = new RateLimitService({
      backend,
      logger,
      failureModeDeny: values['failure-mode-deny'],
      responseHeaders: values['response-headers'],
      defaultAlgorithm: values.algorithm as Algorithm,
    });
    const watcher = values.config
      ? new ConfigFileWatcher({ path: values.config, service, logger })
      : undefined;
    const poller = controlPlane
      ? new ControlPlaneConfigPoller({ url: controlPlane, service, logger, pollIntervalMs })
      : undefined;
    const server = new RateLimitServer({
      service,
      grpcAddress,
      httpAddress,
      logger,
      grpcImpl: values['grpc-impl'] as GrpcImpl,
    });
    try {
      if (watcher) {
        const domains = watcher.load();
        progress(
          `loaded ${domains.length} domain(s) from ${values.config}: ${domains.map((d) => d.domain).join(', ')}`,
        );
        watcher.onReload((ok) => {
          progress(
            ok ? `reloaded ${values.config}` : `kept the last good config; ${values.config} is invalid`,
          );
        });
        watcher.watch();
      }
      if (poller) {
        // Serve at once: until a first revision arrives, /ready says 503 and no domain is limited.
        let last = '';
        poller.onPoll((outcome) => {
          const line =
            outcome === 'applied'
              ? `applied revision ${poller.revision()} from ${poller.endpoint}: ${
                  service
                    .config()
                    .map((d) => d.domain)
                    .join(', ') || '(no domains)'
                }`
              : outcome === 'unreachable'
                ? `control plane ${poller.endpoint} unreachable; keeping the last config`
                : outcome === 'invalid'
                  ? `kept revision ${poller.revision() ?? '(none)'}; the control plane's newest one is invalid`
                  : last;
          if (line !== last) progress(line);
          last = line;
        });
        poller.start();
        progress(`polling ${poller.endpoint} every ${values['poll-interval']}`);
      }
      if (redis) {
        const where = values.redis ?? `cluster ${values['redis-cluster']}`;
        const mode = values['failure-mode-deny'] ? 'deny' : 'allow';
        progress(
          (await redis.waitUntilReady(3000))
            ? `counters in redis ${where}`
            : `redis ${where} unreachable; answering with failure mode ${mode} until it is back`,
        );
      } else {
        progress('counters in memory');
      }
      const addresses = await server.start();
      progress(`gRPC RateLimitService listening on ${addresses.grpc.host}:${addresses.grpc.port}`);
      if (addresses.http) {
        progress(`HTTP /metrics /ready /config on http://${addresses.http.host}:${addresses.http.port}`);
      }
    } catch (err) {
      watcher?.close();
      poller?.close();
      await server.stop(0);
      await service.close();
      throw err;
    }

    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (s: NodeJS.Signals) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(s);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    progress(`${signal}: shutting down`);
    watcher?.close();
    poller?.close();
    try {
      await server.stop();
      await service.close();
    } catch (err) {
      logger.warn('shutdown was not clean', { error: errorMessage(err) });
    }
    progress('stopped');
    return 0;
  },
};
