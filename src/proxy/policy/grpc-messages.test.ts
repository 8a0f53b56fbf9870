import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcMessageCounter, isGrpcContentType } from './grpc-messages.js';

function frame(len: number): Buffer {
  const b = Buffer.alloc(5 + len, 7);
  b[0] = 0;
  b.writeUInt32BE(len, 1);
  return b;
}

test('gRPC messages are counted across any chunking, empty messages included', () => {
  const stream = Buffer.concat([frame(3), frame(0), frame(300), frame(1)]);
  for (const size of [1, 2, 4, 5, 6, 7, 64, stream.length]) {
    const c = new GrpcMessageCounter();
    for (let i = 0; i < stream.length; i += size) c.feed(stream.subarray(i, i + size));
    assert.equal(c.count, 4, `chunks of ${size}`);
  }
  const half = new GrpcMessageCounter();
  half.feed(frame(10).subarray(0, 4));
  assert.equal(half.count, 0, 'an incomplete prefix is not a message yet');
});

test('gRPC content types', () => {
  assert.equal(isGrpcContentType('application/grpc'), true);
  assert.equal(isGrpcContentType('application/grpc+proto'), true);
  assert.equal(isGrpcContentType(['application/grpc-web']), true);
  assert.equal(isGrpcContentType('application/json'), false);
  assert.equal(isGrpcContentType(undefined), false);
});
