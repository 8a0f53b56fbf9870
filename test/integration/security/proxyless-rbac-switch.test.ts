/**
 * Without GRPC_XDS_EXPERIMENTAL_RBAC=true, grpc-js-xds 1.14 does not know the RBAC filter: a
 * server whose Listener carries one NACKs it and does not serve the port (it fails closed on
 * its first configuration; a server already serving keeps its previous Listener, without the
 * new policy). This file must not load the switch (grpc-rbac-switch.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { eventually } from '../../../src/core/testing/eventually.js';
import type { HttpFilter } from '../../../src/protocol/envoy-types.js';
import { TYPE } from '../../../src/protocol/protos.js';
import { pack } from '../../../src/xds/translate/envoy.js';
import { affectedTypes, generate } from '../../../src/xds/translate/index.js';
import { serverListeners } from '../../../src/xds/translate/proxyless/server-listeners.js';
import { grpcBootstrap, startMesh, type TestMesh } from '../helpers/mesh.js';
import { nacksOf, nodeId, serviceAt } from '../helpers/proxyless.js';
import {
  callPath,
  ECHO_CALL,
  freePort,
  startXdsEchoServer,
  type XdsEchoServer,
} from '../helpers/xds-echo-server.js';

const DENY_NOTHING: HttpFilter = {
  name: 'envoy.filters.http.rbac',
  typed_config: pack(TYPE.rbac, { rules: { action: 'DENY', policies: {} } }),
};

let mesh: TestMesh;
let server: XdsEchoServer | undefined;
let client: grpc.Client | undefined;

before(async () => {
  mesh = await startMesh({
    translator: {
      affectedTypes,
      generate: (push, proxy, typeUrl, names) => {
        const out = generate(push, proxy, typeUrl, names);
        if (typeUrl !== TYPE.listener || proxy.type !== 'grpc') return out;
        const inputs = { mtlsModeFor: () => 'PERMISSIVE' as const, authzFilters: () => [DENY_NOTHING] };
        return new Map([...out, ...serverListeners(push, proxy, names, inputs)]);
      },
    },
  });
});

after(async () => {
  client?.close();
  server?.close();
  await mesh.stop();
});

test('without the switch a server NACKs a Listener with an RBAC filter and does not serve', async () => {
  assert.notEqual(process.env.GRPC_XDS_EXPERIMENTAL_RBAC, 'true', 'this test needs the switch off');
  const port = await freePort();
  mesh.apply(serviceAt('no-switch', port));
  server = await startXdsEchoServer({
    name: 'no-switch',
    port,
    bootstrap: grpcBootstrap(mesh.xdsPort, nodeId('no-switch-1'), {}, { instanceIps: '127.0.0.1' }),
    waitForServing: false,
  });
  const nacks = await eventually(async () => {
    const n = await nacksOf(mesh, nodeId('no-switch-1'));
    return n.length > 0 ? n : false;
  }, 'the server NACKing its Listener');
  assert.match(nacks.join(';'), /^LDS: .*envoy\.filters\.http\.rbac filter validation failed/);
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const r = await callPath(client, ECHO_CALL, {}, 2000);
  assert.equal(r.code, grpc.status.UNAVAILABLE, JSON.stringify(r));
  assert.equal(server.paths.length, 0);
});
