/**
 * Test clients for TLS listeners: one request over HTTPS (HTTP/1.1, or HTTP/2 negotiated by
 * ALPN), reporting what the handshake showed (the server certificate's CN, the ALPN protocol)
 * along with the response. Imported by tests only.
 */
import http2 from 'node:http2';
import https from 'node:https';
import type tls from 'node:tls';

export interface TlsClientOptions {
  /** SNI, and the host the certificate must name. */
  servername: string;
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** Client certificate and key (MUTUAL). */
  cert?: string;
  key?: string;
  path?: string;
  /** Host header / :authority; defaults to the servername. */
  host?: string;
  /** Reuse connections (HTTP/1.1): the agent to send through. */
  agent?: https.Agent;
}

export interface TlsResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** CN of the certificate the server presented. */
  serverCommonName: string;
  alpn: string | false;
}

function commonName(cert: tls.PeerCertificate | undefined): string {
  const cn = cert?.subject?.CN;
  return Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
}

/** GET over HTTPS with HTTP/1.1 (ALPN offers http/1.1 only). */
export async function httpsGet(port: number, o: TlsClientOptions): Promise<TlsResponse> {
  return await new Promise<TlsResponse>((resolve, reject) => {
    const options: https.RequestOptions & Pick<tls.ConnectionOptions, 'ALPNProtocols'> = {
      host: '127.0.0.1',
      port,
      path: o.path ?? '/',
      servername: o.servername,
      ca: o.ca,
      ...(o.cert !== undefined ? { cert: o.cert, key: o.key } : {}),
      headers: { host: o.host ?? o.servername },
      ALPNProtocols: ['http/1.1'],
      agent: o.agent ?? false,
    };
    const req = https.request(options, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const serverCommonName = commonName(socket.getPeerCertificate());
      const alpn = socket.alpnProtocol ?? false;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: res.headers,
          serverCommonName,
          alpn,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET over HTTPS offering h2 then http/1.1 by ALPN, spoken as HTTP/2. */
export async function h2Get(port: number, o: TlsClientOptions): Promise<TlsResponse> {
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    servername: o.servername,
    ca: o.ca,
    ...(o.cert !== undefined ? { cert: o.cert, key: o.key } : {}),
    ALPNProtocols: ['h2', 'http/1.1'],
  });
  try {
    return await new Promise<TlsResponse>((resolve, reject) => {
      session.on('error', reject);
      const req = session.request({ ':path': o.path ?? '/', ':authority': o.host ?? o.servername });
      req.on('error', reject);
      let headers: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (headers = h));
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const socket = session.socket as tls.TLSSocket;
        resolve({
          status: Number(headers[':status'] ?? 0),
          body: Buffer.concat(chunks).toString(),
          headers,
          serverCommonName: commonName(socket.getPeerCertificate()),
          alpn: session.alpnProtocol ?? false,
        });
      });
      req.end();
    });
  } finally {
    session.close();
  }
}
