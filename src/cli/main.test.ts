import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './main.js';
import type { CommandIo } from './command.js';

function capture(): { io: CommandIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env: {}, cwd: process.cwd() },
    out: () => out,
    err: () => err,
  };
}

test('trellis --help lists every command with its summary, and each command has --help', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  const names = [...c.out().matchAll(/^ {2}(\S+) {2,}\S/gm)].map((m) => m[1]!);
  for (const expected of ['analyze', 'control-plane', 'proxy-status', 'version'])
    assert.ok(names.includes(expected), c.out());
  for (const name of names) {
    const h = capture();
    assert.equal(await main([name, '--help'], h.io), 0, name);
    assert.match(h.out(), new RegExp(`Usage: trellis ${name}`), `${name} --help shows its usage`);
  }
});

test('an unknown command exits 2 and points at --help', async () => {
  const c = capture();
  assert.equal(await main(['frobnicate'], c.io), 2);
  assert.match(c.err(), /unknown command "frobnicate"; run 'trellis --help'/);
});

test('an unknown command suggests the nearest ones', async () => {
  for (const [typo, want] of [
    ['analyse', 'analyze'],
    ['proxy-conf', 'proxy-config'],
    ['controlplane', 'control-plane'],
  ] as const) {
    const c = capture();
    assert.equal(await main([typo], c.io), 2, typo);
    assert.equal(
      c.err(),
      `trellis: unknown command "${typo}" (did you mean ${want}?); run 'trellis --help' for the list\n`,
    );
  }
});

test('after --, --help and flag-like words are arguments, not flags', async () => {
  const c = capture();
  assert.equal(await main(['analyze', '--', '--help'], c.io), 1);
  assert.match(c.out(), /^--help: no such file or directory$/m);
});

test('an unknown flag before any command says where flags go', async () => {
  const c = capture();
  assert.equal(await main(['--verison'], c.io), 2);
  assert.equal(
    c.err(),
    'trellis: unknown flag --verison (did you mean --version?); flags go after the command: trellis COMMAND [flags]\n',
  );
});

test('trellis --version and -v print the version; help COMMAND is COMMAND --help', async () => {
  const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as {
    version: string;
  };
  for (const flag of ['--version', '-v']) {
    const c = capture();
    assert.equal(await main([flag], c.io), 0);
    assert.equal(c.out(), `trellis ${version}\n`);
  }
  const viaHelp = capture();
  const viaFlag = capture();
  assert.equal(await main(['help', 'up'], viaHelp.io), 0);
  assert.equal(await main(['up', '--help'], viaFlag.io), 0);
  assert.equal(viaHelp.out(), viaFlag.out());
  assert.match(viaHelp.out(), /^Usage: trellis up/m);
  const unknown = capture();
  assert.equal(await main(['help', 'upp'], unknown.io), 2);
  assert.match(unknown.err(), /unknown command "upp" \(did you mean up\?\)/);
});

test('trellis help flags: the shared vocabulary and every default port, none shared', async () => {
  const c = capture();
  assert.equal(await main(['help', 'flags'], c.io), 0);
  assert.match(c.out(), /--xds-address \/ --xds-port/);
  assert.match(c.out(), /\(old: --xds\)/);
  const ports = [...c.out().matchAll(/^ {2}(\d+) +--/gm)].map((m) => Number(m[1]));
  assert.ok(ports.includes(8080) && ports.includes(6070) && ports.includes(15010), c.out());
  assert.equal(new Set(ports).size, ports.length, 'no two defaults share a port');
});

test('usage errors exit 2 and name the flag: ports, unknown flags with suggestions, URLs for HOST:PORT', async () => {
  const cases: [string[], string][] = [
    [
      ['up', '--gateway-port', '99999'],
      'trellis up: --gateway-port 99999: expected a port 0-65535 (0: any free port)\n',
    ],
    [['up', '--base-port=-1'], 'trellis up: --base-port -1: expected a port 0-65535 (0: any free port)\n'],
    [
      ['control-plane', '--xds-adress', '1'],
      "trellis control-plane: unknown flag --xds-adress (did you mean --xds-address?); run 'trellis control-plane --help'\n",
    ],
    [
      ['control-plane', '--config', '.', '--http-port', '70000'],
      'trellis control-plane: --http-port 70000: expected a port 0-65535 (0: any free port)\n',
    ],
    [
      ['proxy', '--xds-address', 'http://127.0.0.1:15010'],
      'trellis proxy: --xds-address http://127.0.0.1:15010: expected HOST:PORT without a scheme (127.0.0.1:15010), not a URL\n',
    ],
    [
      ['proxy', '--xds-address', 'no-such-host.invalid:15010'],
      'trellis proxy: --xds-address no-such-host.invalid:15010: cannot resolve "no-such-host.invalid"',
    ],
    [
      ['proxy', '--admin-port', '65536', '--xds-address', '127.0.0.1:1'],
      'trellis proxy: --admin-port 65536: expected a port 0-65535 (0: any free port)\n',
    ],
    [
      ['ratelimit', '--config', 'x', '--grpc-port', 'abc'],
      'trellis ratelimit: --grpc-port abc: expected a port 0-65535 (0: any free port)\n',
    ],
    [
      ['version', '--shrot'],
      "trellis version: unknown flag --shrot (did you mean --short?); run 'trellis version --help'\n",
    ],
    [
      ['up', '--xds-address', '0.0.0.0:15010'],
      "trellis up: --xds-address 0.0.0.0:15010: trellis up listens on 127.0.0.1 only; pass --xds-port 15010; run 'trellis up --help'\n",
    ],
    [
      ['up', '--http-address', 'http://x:1'],
      'trellis up: --http-address http://x:1: expected HOST:PORT without a scheme (x:1), not a URL\n',
    ],
    [
      ['ratelimit', '--config', 'x', '--http-port='],
      'trellis ratelimit: --http-port "": expected a port 0-65535 (0: any free port)\n',
    ],
  ];
  for (const [argv, err] of cases) {
    const c = capture();
    assert.equal(await main(argv, c.io), 2, argv.join(' '));
    assert.ok(c.err().startsWith(err), `${argv.join(' ')}\n${c.err()}`);
    assert.doesNotMatch(c.err(), /RangeError|\n {4}at /, 'no stack, no node range error');
  }
});

test('proxy --xds (the old spelling) still works, with one note on stderr', async () => {
  const c = capture();
  assert.equal(await main(['proxy', '--xds', 'http://127.0.0.1:15010'], c.io), 2);
  assert.equal(
    c.err(),
    'trellis proxy: --xds is now --xds-address (the old spelling still works)\n' +
      'trellis proxy: --xds-address http://127.0.0.1:15010: expected HOST:PORT without a scheme (127.0.0.1:15010), not a URL\n',
  );
});
