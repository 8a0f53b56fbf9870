/** A @grpc/grpc-js client for RateLimitService/ShouldRateLimit, shared by tests and the benchmark. */
import {
  credentials,
  makeGenericClientConstructor,
  type Client,
  type ChannelOptions,
  type ServiceError,
} from '@grpc/grpc-js';
import { rateLimitService } from '../../protocol/grpc-services.js';
import type { RateLimitRequest, RateLimitResponse } from '../service.js';

type Unary = (req: object, cb: (err: ServiceError | null, res?: object) => void) => void;

export interface RateLimitClient {
  shouldRateLimit(req: RateLimitRequest): Promise<RateLimitResponse>;
  close(): void;
}

export function rateLimitClient(address: string, options: ChannelOptions = {}): RateLimitClient {
  const Ctor = makeGenericClientConstructor(rateLimitService(), 'RateLimitService');
  const client = new Ctor(address, credentials.createInsecure(), options) as unknown as Client & {
    ShouldRateLimit: Unary;
  };
  return {
    shouldRateLimit: (req) =>
      new Promise((resolve, reject) => {
        client.ShouldRateLimit(req, (err, res) => (err ? reject(err) : resolve(res as RateLimitResponse)));
      }),
    close: () => client.close(),
  };
}
