/**
 * An OTLP trace receiver for tests: HTTP/protobuf (POST /v1/traces) or gRPC
 * (TraceService/Export), decoding each export with protobufjs from otlp-trace.proto.
 */
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { eventually } from '../../../src/core/testing/eventually.js';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 2 SERVER, 3 CLIENT. */
  kind: number;
  /** OTLP status code: 0 UNSET, 2 ERROR. */
  status: number;
  traceState: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string>;
  serviceName: string;
}

const root = protobuf.loadSync(path.join(import.meta.dirname, 'otlp-trace.proto'));
const Request = root.lookupType('otlp.test.ExportTraceServiceRequest');

interface DecodedKv {
  key: string;
  value?: { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number };
}

function attrs(list: DecodedKv[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const v = kv.value ?? {};
    out[kv.key] = String(v.stringValue ?? v.boolValue ?? v.intValue ?? v.doubleValue ?? '');
  }
  return out;
}

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

export function decodeExport(body: Uint8Array): ReceivedSpan[] {
  const msg = Request.toObject(Request.decode(body), { longs: String, defaults: true }) as {
    resourceSpans: {
      resource?: { attributes?: DecodedKv[] };
      scopeSpans: {
        spans: {
          traceId: Uint8Array;
          spanId: Uint8Array;
          parentSpanId: Uint8Array;
          name: string;
          kind: number;
          traceState: string;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
          attributes: DecodedKv[];
          status?: { code?: number };
        }[];
      }[];
    }[];
  };
  const out: ReceivedSpan[] = [];
  for (const rs of msg.resourceSpans) {
    const serviceName = attrs(rs.resource?.attributes)['service.name'] ?? '';
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans)
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          status: s.status?.code ?? 0,
          traceState: s.traceState,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          serviceName,
        });
  }
  return out;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests received (and what each carried: path, content type, headers). */
  readonly exports: {
    path: string;
    contentType: string;
    headers: Record<string, string | string[] | undefined>;
  }[] = [];
  port = 0;
  private closeFn: () => Promise<void> = async () => undefined;

  static async http(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        r.exports.push({
          path: req.url ?? '',
          contentType: req.headers['content-type'] ?? '',
          headers: req.headers,
        });
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        r.spans.push(...decodeExport(Buffer.concat(chunks)));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    r.port = (server.address() as net.AddressInfo).port;
    r.closeFn = async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    return r;
  }

  static async grpc(): Promise<OtlpReceiver> {
    const r = new OtlpReceiver();
    const server = new grpc.Server();
    const identity = (b: Buffer) => b;
    server.addService(
      {
        Export: {
          path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const md = call.metadata.getMap();
          r.exports.push({
            path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
            contentType: 'application/grpc',
            headers: Object.fromEntries(Object.entries(md).map(([k, v]) => [k, String(v)])),
          });
          r.spans.push(...decodeExport(call.request));
          cb(null, Buffer.alloc(0));
        },
      },
    );
    r.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    r.closeFn = async () => {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
    };
    return r;
  }

  async waitForSpans(n: number, what = `${n} spans`): Promise<ReceivedSpan[]> {
    await eventually(() => this.spans.length >= n, { what, timeoutMs: 5000 });
    return this.spans;
  }

  async close(): Promise<void> {
    await this.closeFn();
  }
}
