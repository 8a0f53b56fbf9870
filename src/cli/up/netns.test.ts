import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  NetnsCapture,
  captureCommands,
  hostsFile,
  serviceAddresses,
  workloadLayout,
  wrapCommand,
  type CommandRunner,
} from './netns.js';

test('each workload gets its own namespace, veth and address; services get virtual addresses', () => {
  const [a, b] = workloadLayout('Book Info', ['client', 'reviews-v1']);
  assert.deepEqual(a, { name: 'client', ns: 'trellis-book-info-0', veth: 'trv0', address: '10.250.0.2' });
  assert.equal(b?.address, '10.250.0.3');
  const vips = serviceAddresses(['client', 'reviews', 'reviews']);
  assert.deepEqual(
    [...vips],
    [
      ['client', '10.251.0.1'],
      ['reviews', '10.251.0.2'],
    ],
  );
  assert.throws(
    () =>
      workloadLayout(
        'm',
        Array.from({ length: 251 }, (_, i) => `w${i}`),
      ),
    /at most 250/,
  );
});

test('the hosts file resolves every service name form to its virtual address', () => {
  const [w] = workloadLayout('m', ['client']);
  assert.ok(w);
  const text = hostsFile(w, new Map([['reviews', '10.251.0.2']]), new Map([['reviews', 'shop']]));
  assert.match(text, /^127\.0\.0\.1 localhost$/m);
  assert.match(text, /^10\.250\.0\.2 client$/m);
  assert.match(
    text,
    /^10\.251\.0\.2 reviews reviews\.shop reviews\.shop\.svc reviews\.shop\.svc\.cluster\.local$/m,
  );
});

test('outbound TCP goes to the sidecar; what the sidecar sends to the app port goes into the namespace; calls to the app address go to the sidecar', () => {
  const [w] = workloadLayout('m', ['client']);
  assert.ok(w);
  const [out, toApp, toSidecar] = captureCommands(w, 15001, [{ app: 21000, inbound: 21001 }]).map((c) =>
    c.join(' '),
  );
  assert.equal(
    out,
    'iptables -w -t nat -A TRELLIS-UP -s 10.250.0.2/32 ! -d 10.250.0.1/32 -p tcp -j DNAT --to-destination 127.0.0.1:15001',
  );
  assert.equal(
    toApp,
    'iptables -w -t nat -A TRELLIS-UP-IN -d 127.0.0.1/32 -p tcp --dport 21000 -j DNAT --to-destination 10.250.0.2:21000',
  );
  assert.equal(
    toSidecar,
    'iptables -w -t nat -A TRELLIS-UP-IN -d 10.250.0.2/32 -p tcp --dport 21000 -j DNAT --to-destination 127.0.0.1:21001',
  );
  assert.deepEqual(wrapCommand(w, ['node', 'app.js']), [
    'ip',
    'netns',
    'exec',
    'trellis-m-0',
    'node',
    'app.js',
  ]);
});

async function fixture() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'trellis-netns-unit-'));
  const dirs = {
    etcNetns: path.join(root, 'etc'),
    runNetns: path.join(root, 'run'),
    sysClassNet: path.join(root, 'sys'),
  };
  for (const d of Object.values(dirs)) await mkdir(d);
  const ran: string[] = [];
  const failing = new Set<string>();
  const run: CommandRunner = (argv) => {
    const line = argv.join(' ');
    ran.push(line);
    if (line === 'ip netns pids trellis-old-0')
      return Promise.resolve({ code: 0, stdout: '41\n42\n', stderr: '' });
    const code = [...failing].some((f) => line.startsWith(f)) ? 1 : 0;
    return Promise.resolve({ code, stdout: '', stderr: code ? 'boom' : '' });
  };
  return { root, dirs, ran, failing, run, cleanup: () => rm(root, { recursive: true, force: true }) };
}

test('setup removes a crashed run first (its apps, namespaces, veths, hosts files), teardown removes its own', async (t) => {
  const f = await fixture();
  t.after(f.cleanup);
  await writeFile(path.join(f.dirs.runNetns, 'trellis-old-0'), '');
  await writeFile(path.join(f.dirs.runNetns, 'other'), '');
  await mkdir(path.join(f.dirs.sysClassNet, 'trv7'));
  await mkdir(path.join(f.dirs.sysClassNet, 'eth0'));
  await mkdir(path.join(f.dirs.etcNetns, 'trellis-old-0'));
  const killed: number[] = [];
  const capture = new NetnsCapture({
    mesh: 'm',
    run: f.run,
    ...f.dirs,
    isRoot: true,
    kill: (pid) => killed.push(pid),
  });
  const layout = workloadLayout('m', ['client']);
  await capture.setup(layout, () => 'HOSTS\n');

  assert.deepEqual(killed, [41, 42]);
  assert.ok(f.ran.includes('ip netns del trellis-old-0'));
  assert.ok(f.ran.includes('ip link del trv7'));
  assert.ok(!f.ran.some((l) => l.includes('del other') || l.includes('del eth0')));
  assert.deepEqual(await readdir(f.dirs.etcNetns), ['trellis-m-0']);
  assert.equal(await readFile(path.join(f.dirs.etcNetns, 'trellis-m-0', 'hosts'), 'utf8'), 'HOSTS\n');
  assert.ok(f.ran.includes('ip netns add trellis-m-0'));
  assert.ok(f.ran.includes('sysctl -q -w net.ipv4.conf.trellis0.route_localnet=1'));

  f.ran.length = 0;
  await capture.teardown();
  assert.ok(f.ran.includes('ip netns del trellis-m-0'));
  assert.ok(f.ran.includes('iptables -w -t nat -X TRELLIS-UP'));
  assert.ok(f.ran.includes('ip link del trellis0'));
  assert.deepEqual(await readdir(f.dirs.etcNetns), []);
  f.ran.length = 0;
  await capture.teardown();
  assert.deepEqual(f.ran, [], 'a second teardown does nothing');
});

test('a failing setup command is reported with the command; teardown before setup touches nothing', async (t) => {
  const f = await fixture();
  t.after(f.cleanup);
  f.failing.add('ip link add trellis0');
  const capture = new NetnsCapture({ mesh: 'm', run: f.run, ...f.dirs, isRoot: true });
  await capture.teardown();
  assert.deepEqual(f.ran, []);
  await assert.rejects(
    capture.setup(workloadLayout('m', ['a']), () => ''),
    /`ip link add trellis0 type bridge` failed: boom/,
  );
});

test('check says what is missing: root, ip, iptables', async (t) => {
  const f = await fixture();
  t.after(f.cleanup);
  await assert.rejects(new NetnsCapture({ mesh: 'm', run: f.run, isRoot: false }).check(), /needs root/);
  f.failing.add('iptables');
  await assert.rejects(
    new NetnsCapture({ mesh: 'm', run: f.run, isRoot: true }).check(),
    /needs `iptables`.*apt-get install/,
  );
});
