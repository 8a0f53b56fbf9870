import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrellisError } from '../core/errors.js';
import { checkResolvable, parseAddress, parseAddressList, parseFlags, parsePort } from './args.js';
import { withRunContext, type RunContext } from './run-context.js';

function usageError(message: RegExp) {
  return (e: unknown) => isTrellisError(e, 'TRELLIS_INVALID_ARGUMENT') && message.test(e.message);
}

test('parsePort: 0-65535 only, the flag named in the error', () => {
  for (const [v, p] of [
    ['0', 0],
    ['8080', 8080],
    ['65535', 65535],
  ] as const)
    assert.equal(parsePort('x-port', v), p);
  for (const bad of ['65536', '99999', '-1', '80.5', '0x50', '', 'http', '1e3', '123456'])
    assert.throws(
      () => parsePort('gateway-port', bad),
      usageError(/^--gateway-port \S+: expected a port 0-65535/),
      bad,
    );
  assert.throws(() => parsePort('gateway-port', '99999'), {
    message: '--gateway-port 99999: expected a port 0-65535 (0: any free port)',
  });
});

test('parseAddress: HOST:PORT, :PORT and PORT; URLs, paths and bad ports refused with the expected form', () => {
  const ok: [string, { host: string; port: number }][] = [
    ['127.0.0.1:15010', { host: '127.0.0.1', port: 15010 }],
    [':15010', { host: '127.0.0.1', port: 15010 }],
    ['15010', { host: '127.0.0.1', port: 15010 }],
    ['istiod.istio-system:15012', { host: 'istiod.istio-system', port: 15012 }],
    ['[::1]:0', { host: '::1', port: 0 }],
  ];
  for (const [v, want] of ok) assert.deepEqual(parseAddress('xds-address', v), want, v);
  assert.throws(
    () => parseAddress('xds-address', 'http://127.0.0.1:15010'),
    usageError(
      /^--xds-address http:\/\/127\.0\.0\.1:15010: expected HOST:PORT without a scheme \(127\.0\.0\.1:15010\), not a URL$/,
    ),
  );
  for (const bad of ['grpc://h:1', 'host:99999', 'host:', 'host', 'a/b:15010', 'h:1/x', 'bad host:1', '']) {
    assert.throws(
      () => parseAddress('xds-address', bad),
      usageError(/^--xds-address .*expected HOST:PORT/),
      bad,
    );
  }
});

test('checkResolvable: an unknown host name fails at once with the flag; IP addresses are not looked up', async () => {
  await checkResolvable('xds-address', { host: '10.255.255.1', port: 15010 });
  await checkResolvable('xds-address', { host: 'localhost', port: 15010 });
  await assert.rejects(
    checkResolvable('xds-address', { host: 'no-such-host.invalid', port: 15010 }),
    usageError(
      /^--xds-address no-such-host\.invalid:15010: cannot resolve "no-such-host\.invalid" \(\w+\); check the host name/,
    ),
  );
});

const FLAGS = {
  'xds-address': { type: 'string', address: true, aliases: ['xds'], portAlias: 'xds-port' },
  'ca-address': { type: 'string', address: true, connect: true },
  'http-port': { type: 'string', default: '15014', port: true, addressAlias: 'http-address' },
  output: { type: 'string', short: 'o' },
  verbose: { type: 'boolean' },
} as const;

async function parsed(argv: string[]) {
  const ctx: RunContext = { command: 'demo', note: (l) => notes.push(l), ports: [] };
  const notes: string[] = [];
  const { values, positionals } = await withRunContext(ctx, async () => parseFlags('demo', argv, FLAGS));
  return { values: { ...values }, positionals, notes, ports: ctx.ports };
}

test('parseFlags: old spellings work with one note; --X-port and --X-address spell the same flag', async () => {
  const old = await parsed(['--xds', '127.0.0.1:1', 'pos', '--xds=127.0.0.1:2']);
  assert.equal(old.values['xds-address'], '127.0.0.1:2');
  assert.deepEqual(old.positionals, ['pos']);
  assert.deepEqual(old.notes, ['trellis demo: --xds is now --xds-address (the old spelling still works)\n']);

  const port = await parsed(['--xds-port', '0']);
  assert.equal(port.values['xds-address'], '127.0.0.1:0');
  assert.deepEqual(port.notes, [], 'the port spelling is not deprecated');

  const addr = await parsed(['--http-address=127.0.0.1:9000']);
  assert.equal(addr.values['http-port'], '9000');
  await assert.rejects(
    parsed(['--http-address', '0.0.0.0:9000']),
    usageError(/listens on 127\.0\.0\.1 only; pass --http-port 9000/),
  );
  await assert.rejects(
    parsed(['--xds-port', '70000']),
    usageError(/^--xds-port 70000: expected a port 0-65535/),
  );
  await assert.rejects(parsed(['--http-port', 'x']), usageError(/^--http-port x: expected a port/));
});

test('parseFlags: unknown flags name the nearest ones; values that look like flags are values', async () => {
  await assert.rejects(
    parsed(['--xds-adress', '1']),
    usageError(/^unknown flag --xds-adress \(did you mean --xds-address\?\); run 'trellis demo --help'$/),
  );
  await assert.rejects(
    parsed(['--frobnicate']),
    usageError(/^unknown flag --frobnicate; run 'trellis demo --help'$/),
  );
  await assert.rejects(parsed(['-x']), usageError(/Unknown option '-x'; run 'trellis demo --help'/));
  // A flag's value is not a flag, and after -- nothing is.
  const v = await parsed(['-o', 'xds-adress', '--output=--xds-adress', '--', '--xds-adress']);
  assert.equal(v.values.output, '--xds-adress');
  assert.deepEqual(v.positionals, ['--xds-adress']);
  await assert.rejects(parsed(['--xds']), usageError(/--xds needs a value/));
});

test('parseFlags: the ports asked for are recorded with the spelling that means "any free port"', async () => {
  // Where the process connects (--ca-address) is checked but never blamed for a clash.
  await assert.rejects(
    parsed(['--ca-address', 'http://ca:1']),
    usageError(/^--ca-address http:\/\/ca:1: expected HOST:PORT without a scheme/),
  );
  const r = await parsed(['--xds-address', '127.0.0.1:15010', '--ca-address', '127.0.0.1:15010']);
  assert.deepEqual(r.ports, [
    { flag: 'xds-address', zero: '--xds-port 0', port: 15010, host: '127.0.0.1' },
    { flag: 'http-port', zero: '--http-port 0', port: 15014 },
  ]);
});

test('parseAddressList: several control planes, each checked; empty entries and repeats refused', () => {
  assert.deepEqual(parseAddressList('xds-address', '10.0.0.1:15010, cp-b:15010,[::1]:15011'), [
    { host: '10.0.0.1', port: 15010 },
    { host: 'cp-b', port: 15010 },
    { host: '::1', port: 15011 },
  ]);
  for (const [bad, why] of [
    ['a:1,,b:2', /no empty entry/],
    ['a:1,', /no empty entry/],
    ['a:1,a:1', /a:1 is listed twice/],
    ['a:1,http://b:2', /not a URL/],
    ['a:1,b:99999', /port 0-65535/],
  ] as const)
    assert.throws(
      () => parseAddressList('xds-address', bad),
      (e: unknown) => isTrellisError(e) && why.test(e.message) && e.message.startsWith('--xds-address'),
      bad,
    );
});

test('parseFlags: a list flag takes several addresses, a single-address flag does not', () => {
  const { values } = parseFlags('proxy', ['--xds-address', 'a:1,b:2'], {
    'xds-address': { type: 'string', address: true, connect: true, list: true },
  });
  assert.equal(values['xds-address'], 'a:1,b:2');
  assert.throws(
    () =>
      parseFlags('proxy', ['--ca-address', 'a:1,b:2'], {
        'ca-address': { type: 'string', address: true, connect: true },
      }),
    /--ca-address/,
  );
});
