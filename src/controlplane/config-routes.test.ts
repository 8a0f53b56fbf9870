import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAndValidate } from '../api/parse.js';
import { manifestOf, validateResource } from '../api/validate.js';
import type { Resource } from '../api/resource.js';
import { DirectoryConfigStore } from '../config/directory-store.js';
import { issueCertificate } from '../core/testing/certificates.js';
import { MemoryConfigStore } from '../config/memory-store.js';
import type { ConfigStore } from '../config/store.js';
import { ControlPlane } from './control-plane.js';
import { resolveKind } from './config-routes.js';

const VS = (weight = 100, name = 'reviews') => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name },
  spec: { hosts: [name], http: [{ route: [{ destination: { host: name }, weight }] }] },
});

const USER_FILE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: default }
spec:
  host: ratings
  subsets: [{ name: v1, labels: { version: v1 } }]
`;

interface Running {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

async function start(dir: string): Promise<Running> {
  const store = new DirectoryConfigStore(dir, { parse: parseAndValidate, rescanMs: 0 });
  await store.start();
  return serve(store, dir, () => store.close());
}

async function serve(store: ConfigStore, dir: string, close: () => void): Promise<Running> {
  const cp = new ControlPlane({ config: store, debounce: { quietMs: 1, maxMs: 10 } });
  const bound = await cp.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 });
  return {
    url: `http://127.0.0.1:${bound.http.port}`,
    dir,
    async stop() {
      close();
      await cp.stop();
    },
  };
}

async function withControlPlane(fn: (cp: Running) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'trellis-config-api-'));
  await writeFile(path.join(dir, 'ratings.yaml'), USER_FILE);
  const cp = await start(dir);
  try {
    await fn(cp);
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function call(
  url: string,
  method: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    ...(body !== undefined
      ? {
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': contentType },
        }
      : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('kinds resolve by name, plural and short name, case-insensitively', () => {
  for (const name of ['vs', 'VS', 'virtualservice', 'VirtualServices', 'virtualservice.networking.istio.io'])
    assert.equal(resolveKind(name).kind, 'VirtualService', name);
  assert.equal(resolveKind('dr').kind, 'DestinationRule');
  assert.equal(resolveKind('gw').kind, 'Gateway');
  assert.equal(resolveKind('se').kind, 'ServiceEntry');
  assert.equal(resolveKind('we').kind, 'WorkloadEntry');
  assert.equal(resolveKind('sidecars').kind, 'Sidecar');
  assert.equal(resolveKind('serviceentries').kind, 'ServiceEntry');
  // `gateways` was `gatewaies` (a y after a vowel takes an s), so `trellis get gateways` failed.
  assert.equal(resolveKind('gateways').kind, 'Gateway');
  assert.equal(resolveKind('authorizationpolicies').kind, 'AuthorizationPolicy');
  // The Gateway API's Gateway: by its kubectl short name and its group-qualified plural.
  for (const name of ['gtw', 'gateways.gateway.networking.k8s.io', 'Gateway.gateway.networking.k8s.io'])
    assert.equal(resolveKind(name).kind, 'KubernetesGateway', name);
  assert.equal(resolveKind('httproutes').kind, 'HTTPRoute');
  assert.equal(resolveKind('referencegrants').kind, 'ReferenceGrant');
  assert.throws(
    () => resolveKind('deployment'),
    /unknown kind "deployment"; known kinds: .*VirtualService \(vs\)/,
  );
});

test('apply stores a resource as its own file, get shows it, and it survives a restart', async () => {
  await withControlPlane(async (cp) => {
    const applied = await call(`${cp.url}/v1/config`, 'POST', VS(100));
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    assert.deepEqual(applied.json.results, [
      { kind: 'VirtualService', namespace: 'default', name: 'reviews', outcome: 'created' },
    ]);
    const revision = applied.json.revision as number;

    const file = path.join(cp.dir, 'applied', 'virtualservice.default.reviews.yaml');
    const parsed = parseAndValidate(await readFile(file, 'utf8'), file);
    assert.deepEqual(parsed[0]?.resource?.spec, VS(100).spec);

    const one = await call(`${cp.url}/v1/config/vs/default/reviews`, 'GET');
    assert.equal(one.status, 200);
    assert.equal((one.json as unknown as Resource).metadata.resourceVersion, String(revision));

    const list = await call(`${cp.url}/v1/config/virtualservices?namespace=default`, 'GET');
    assert.deepEqual(
      (list.json.items as Resource[]).map((r) => r.metadata.name),
      ['reviews'],
    );
    assert.deepEqual(list.json.sources, { 'default/reviews': file });

    const again = await call(`${cp.url}/v1/config`, 'POST', VS(100));
    assert.equal((again.json.results as { outcome: string }[])[0]?.outcome, 'unchanged');
    const changed = await call(`${cp.url}/v1/config`, 'POST', VS(90), 'application/json');
    assert.equal(changed.status, 200, JSON.stringify(changed.json));
    // A lone destination's weight is a warning, not an error: applied, and the warning returned.
    assert.equal((changed.json.results as { outcome: string }[])[0]?.outcome, 'configured');
    assert.match(
      JSON.stringify(changed.json.warnings),
      /"doc":1,"severity":"warning","path":"spec.http\[0\].route\[0\].weight"/,
    );

    await cp.stop();
    const restarted = await start(cp.dir);
    try {
      const after = await call(`${restarted.url}/v1/config/vs/default/reviews`, 'GET');
      assert.equal(after.status, 200);
      assert.deepEqual((after.json as unknown as Resource).spec, VS(90).spec);
      const dr = await call(`${restarted.url}/v1/config/dr/default/ratings`, 'GET');
      assert.equal(dr.status, 200, 'user-written files are still served');
    } finally {
      await restarted.stop();
    }
    cp.stop = () => Promise.resolve();
  });
});

test('apply takes multi-document YAML and lists; an invalid request gets every problem, nothing applied', async () => {
  await withControlPlane(async (cp) => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: details }
spec:
  hosts: [details]
  http: [{ route: [{ destination: { host: details } }] }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ['*'] }]
`;
    const ok = await call(`${cp.url}/v1/config`, 'POST', yaml, 'application/yaml');
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(
      (ok.json.results as { kind: string }[]).map((r) => r.kind),
      ['VirtualService', 'Gateway'],
    );

    const bad = VS(100, 'productpage');
    const invalid = [
      VS(100, 'ratings-vs'),
      { ...bad, spec: { hosts: ['productpage'], http: [{ route: [{ destination: {} }], timeout: 'soon' }] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualServce', metadata: { name: 'x' }, spec: {} },
    ];
    const res = await call(`${cp.url}/v1/config`, 'POST', { kind: 'List', items: invalid });
    assert.equal(res.status, 400);
    const error = res.json.error as { code: string; problems: { file: string; doc: number; path: string }[] };
    assert.equal(error.code, 'TRELLIS_INVALID_CONFIG');
    assert.equal(error.problems.length, 3, JSON.stringify(error.problems));
    assert.ok(error.problems.some((p) => p.doc === 2 && p.path === 'spec.http[0].timeout'));
    for (const p of error.problems) assert.equal(p.file, '<request>');
    assert.ok(error.problems.some((p) => p.doc === 2 && p.path === 'spec.http[0].route[0].destination.host'));
    assert.ok(error.problems.some((p) => p.doc === 3 && p.path === 'kind'));
    const none = await call(`${cp.url}/v1/config/vs/default/ratings-vs`, 'GET');
    assert.equal(none.status, 404, 'nothing of an invalid request is applied');
    assert.match(JSON.stringify(none.json), /trellis get virtualservice -A/);

    const broken = await call(`${cp.url}/v1/config`, 'POST', 'kind: [', 'application/yaml');
    assert.equal(broken.status, 400);
    assert.match(JSON.stringify(broken.json), /invalid YAML/);
    const dupes = await call(`${cp.url}/v1/config`, 'POST', [VS(100, 'a'), VS(100, 'a')]);
    assert.equal(dupes.status, 400);
    assert.match(JSON.stringify(dupes.json), /already defined at <request>:1/);
  });
});

test('a resource from a user-written file is neither overwritten nor deleted: 409 names the file', async () => {
  await withControlPlane(async (cp) => {
    const dr = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'ratings' },
      spec: { host: 'ratings' },
    };
    const userFile = path.join(cp.dir, 'ratings.yaml');
    const apply = await call(`${cp.url}/v1/config`, 'POST', [VS(100, 'x'), dr]);
    assert.equal(apply.status, 409);
    assert.match(
      JSON.stringify(apply.json),
      new RegExp(`is defined in ${userFile.replace(/[/\\.]/g, '.')}; edit .* or delete the resource there`),
    );
    assert.equal((await call(`${cp.url}/v1/config/vs/default/x`, 'GET')).status, 404, 'all or nothing');

    const del = await call(`${cp.url}/v1/config/dr/default/ratings`, 'DELETE');
    assert.equal(del.status, 409);
    assert.match(JSON.stringify(del.json), /edit .*ratings\.yaml or delete the resource there/);
    assert.equal((await call(`${cp.url}/v1/config/dr/default/ratings`, 'GET')).status, 200);
  });
});

test('delete removes an applied resource and its file; unknown ones are 404', async () => {
  await withControlPlane(async (cp) => {
    assert.equal((await call(`${cp.url}/v1/config`, 'POST', VS())).status, 200);
    const del = await call(`${cp.url}/v1/config/VirtualService/default/reviews`, 'DELETE');
    assert.equal(del.status, 200, JSON.stringify(del.json));
    assert.equal((del.json.deleted as Resource).metadata.name, 'reviews');
    assert.deepEqual(await readdir(path.join(cp.dir, 'applied')), []);
    assert.equal((await call(`${cp.url}/v1/config/vs/default/reviews`, 'GET')).status, 404);
    const again = await call(`${cp.url}/v1/config/vs/default/reviews`, 'DELETE');
    assert.equal(again.status, 404);
    const unknown = await call(`${cp.url}/v1/config/deployments`, 'GET');
    assert.equal(unknown.status, 400);
    assert.match(
      (unknown.json.error as { message: string }).message,
      /^unknown kind "deployments"; known kinds: /,
    );
  });
});

test('with a memory store, apply and delete go straight to the store', async () => {
  const store = new MemoryConfigStore((r) => validateResource(r));
  const cp = await serve(store, '', () => undefined);
  try {
    const res = await call(`${cp.url}/v1/config`, 'POST', VS());
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.ok(store.get('VirtualService', 'default', 'reviews'));
    assert.equal((await call(`${cp.url}/v1/config/vs/default/reviews`, 'DELETE')).status, 200);
    assert.equal(store.get('VirtualService', 'default', 'reviews'), undefined);
  } finally {
    await cp.stop();
  }
});

test('a Secret applied as trellis apply sends it is stored owner-only with its key, and answered redacted', async () => {
  const cert = issueCertificate({ commonName: 'shop' });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const [doc] = parseAndValidate(
    `apiVersion: v1
kind: Secret
metadata: { name: shop-cert, namespace: istio-system }
type: kubernetes.io/tls
data: { tls.crt: ${b64(cert.certPem)}, tls.key: ${b64(cert.keyPem)} }
`,
    'secret.yaml',
  );
  await withControlPlane(async (cp) => {
    const applied = await call(`${cp.url}/v1/config`, 'POST', [manifestOf(doc!.resource!)]);
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    const items = applied.json.items as { data: Record<string, string>; spec?: unknown }[];
    assert.deepEqual(items[0]?.data, { 'tls.crt': b64(cert.certPem), 'tls.key': '[redacted]' });
    assert.equal(items[0]?.spec, undefined);
    const file = path.join(cp.dir, 'applied', 'secret.istio-system.shop-cert.yaml');
    assert.ok((await readFile(file, 'utf8')).includes(`tls.key: ${b64(cert.keyPem)}`));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const one = await call(`${cp.url}/v1/config/secret/istio-system/shop-cert`, 'GET');
    assert.equal((one.json.data as Record<string, string>)['tls.key'], '[redacted]');
    const deleted = await call(`${cp.url}/v1/config/secrets/istio-system/shop-cert`, 'DELETE');
    assert.equal((deleted.json.deleted as { data: Record<string, string> }).data['tls.key'], '[redacted]');
  });
});
