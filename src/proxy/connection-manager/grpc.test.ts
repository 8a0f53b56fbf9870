import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FakeAds } from '../testing/fake-ads.js';
import { startMesh } from '../testing/harness.js';
import {
  edsCluster,
  endpoints,
  h2Options,
  httpListener,
  routeConfig,
  routeTo,
  virtualHost,
} from '../testing/resources.js';

const C = 'outbound|50051||echo.default.svc.cluster.local';
const id = (b: Buffer) => b;
const ECHO: grpc.ServiceDefinition = {
  Echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  },
};

async function echoServer(): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'missing') {
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-echo-trailer', 'done');
      cb(null, Buffer.from(`echo:${text}:${String(call.metadata.get('x-user')[0] ?? '')}`), trailer);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { port, server };
}

function call(
  client: grpc.Client,
  text: string,
): Promise<{ err: grpc.ServiceError | null; value?: string; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    const md = new grpc.Metadata();
    md.set('x-user', 'ann');
    let result: { err: grpc.ServiceError | null; value?: string } | undefined;
    let trailers: grpc.Metadata | undefined;
    const done = () => {
      if (result && trailers) resolve({ ...result, trailers });
    };
    const c = client.makeUnaryRequest('/test.Echo/Echo', id, id, Buffer.from(text), md, (err, value) => {
      result = { err, value: value?.toString() };
      done();
    });
    c.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      done();
    });
  });
}

test('h2c gRPC pass-through keeps metadata, trailers and error statuses', async (t) => {
  const backend = await echoServer();
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C, h2Options())],
      EDS: [endpoints(C, [{ port: backend.port }])],
      LDS: [httpListener(50051)],
      RDS: [
        routeConfig('50051', [virtualHost('echo', ['echo:50051'], [routeTo(C, { prefix: '/test.Echo/' })])]),
      ],
    },
    {},
    FakeAds,
  );
  const client = new grpc.Client(`127.0.0.1:${mesh.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'echo:50051',
  });
  t.after(async () => {
    client.close();
    await mesh.close();
    backend.server.forceShutdown();
  });
  const ok = await call(client, 'hi');
  assert.equal(ok.err, null);
  assert.equal(ok.value, 'echo:hi:ann');
  assert.deepEqual(ok.trailers?.get('x-echo-trailer'), ['done']);
  const missing = await call(client, 'missing');
  assert.equal(missing.err?.code, grpc.status.NOT_FOUND);
  assert.equal(missing.err?.details, 'no such thing');
  const stats = mesh.proxy.stats.prometheus();
  assert.match(stats, /response_code="200",response_flags="-",grpc_response_status="0"/);
  assert.match(stats, /response_code="200",response_flags="-",grpc_response_status="5"/);
});

test('a gRPC request with no route gets a gRPC status, not an HTML page', async (t) => {
  const mesh = await startMesh(
    {
      CDS: [edsCluster(C, h2Options())],
      EDS: [endpoints(C, [{ port: 1 }])],
      LDS: [httpListener(50051)],
      RDS: [routeConfig('50051', [])],
    },
    {},
    FakeAds,
  );
  const client = new grpc.Client(`127.0.0.1:${mesh.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': 'echo:50051',
  });
  t.after(async () => {
    client.close();
    await mesh.close();
  });
  const res = await call(client, 'hi');
  assert.equal(res.err?.code, grpc.status.UNIMPLEMENTED);
  assert.match(res.err?.details ?? '', /no route/);
});
