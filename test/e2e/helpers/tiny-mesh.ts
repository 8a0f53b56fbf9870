/**
 * A small mesh for `trellis up` tests, cheaper than bookinfo: made in a temporary directory
 * outside the repository (so its TypeScript app loads tsx the way a user's copy would), one
 * TypeScript web app behind the gateway, and whatever other workloads a test adds. Each app
 * writes `OUT/<name>.json` ({pid, port}) once it listens, so a test can find it without
 * reading `up`'s output (which the EPIPE test throws away).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTrellis, type RunningCommand } from '../../integration/helpers/process.js';

const WEB_APP = `import http from 'node:http';
import { renameSync, writeFileSync } from 'node:fs';
const name: string = process.env.TRELLIS_WORKLOAD ?? '?';
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/exit') {
    res.end('bye');
    setTimeout(() => process.exit(Number(url.searchParams.get('code') ?? 0)), 10);
    return;
  }
  res.end(\`\${name} \${process.env.GREETING ?? 'hello'} \${url.pathname}\`);
});
server.listen(Number(process.env.PORT), process.env.BIND_ADDRESS, () => {
  // Written aside, then renamed: a test reading it never sees a half-written file.
  const file = \`\${process.env.OUT_DIR}/\${name}.json\`;
  writeFileSync(file + '.tmp', JSON.stringify({ pid: process.pid, port: Number(process.env.PORT) }));
  renameSync(file + '.tmp', file);
  console.log(\`\${name} listening on \${process.env.PORT}\`);
});
process.on('SIGTERM', () => process.exit(0));
`;

const GATEWAY_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: ['*']
  gateways: [tiny-gateway]
  http:
    - match: [{ uri: { prefix: /web } }, { uri: { exact: /hello } }]
      route: [{ destination: { host: web, port: { number: 9080 } } }]
`;

export interface ExtraWorkload {
  name: string;
  service: string;
  command: string[];
}

export interface TinyMesh {
  dir: string;
  configDir: string;
  out: string;
  /** The {pid, port} an app wrote once it listened, or undefined. */
  app(name: string): Promise<{ pid: number; port: number } | undefined>;
  start(extraArgs?: string[]): RunningCommand;
  remove(): Promise<void>;
}

export async function tinyMesh(extra: ExtraWorkload[] = []): Promise<TinyMesh> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trellis-tiny-'));
  const configDir = path.join(dir, 'config');
  const out = path.join(dir, 'out');
  await mkdir(configDir);
  await mkdir(out);
  await writeFile(path.join(dir, 'web.ts'), WEB_APP);
  await writeFile(path.join(configDir, 'web.yaml'), GATEWAY_VS);
  const workloads = [
    { name: 'web-v1', service: 'web', command: ['node', '--import', 'tsx', 'web.ts'] },
    ...extra,
  ];
  const yaml = [
    'apiVersion: trellis.io/v1alpha1',
    'kind: Mesh',
    'metadata: { name: tiny }',
    'spec:',
    '  config: config',
    '  gateway: { name: tiny-gateway, port: 8080 }',
    '  workloads:',
    ...workloads.flatMap((w) => [
      `    - name: ${w.name}`,
      `      service: ${w.service}`,
      '      ports: [{ port: 9080, protocol: http }]',
      `      command: ${JSON.stringify(w.command)}`,
      `      env: { OUT_DIR: ${JSON.stringify(out)} }`,
    ]),
    '',
  ].join('\n');
  await writeFile(path.join(dir, 'mesh.yaml'), yaml);
  return {
    dir,
    configDir,
    out,
    async app(name) {
      try {
        return JSON.parse(await readFile(path.join(out, `${name}.json`), 'utf8')) as {
          pid: number;
          port: number;
        };
      } catch {
        return undefined;
      }
    },
    start(extraArgs = []) {
      return startTrellis(
        [
          'up',
          dir,
          '--gateway-port',
          '0',
          '--base-port',
          '0',
          '--xds-port',
          '0',
          '--http-port',
          '0',
          '--stop-grace',
          '2',
          ...extraArgs,
        ],
        { cwd: dir },
      );
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
