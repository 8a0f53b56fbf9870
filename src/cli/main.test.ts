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
