// Unit tests: the Data-In corrupter follows RFC 7143 11.2.1 framing across chunk boundaries
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataInCorrupter } from './data-in-corrupter.js';

/** A PDU: 48-byte BHS with opcode, TotalAHSLength, DataSegmentLength; data filled with `fill`. */
function pdu(opcode: number, dataLength: number, fill: number, ahsWords = 0): Buffer {
  const padded = (dataLength + 3) & ~3;
  const b = Buffer.alloc(48 + ahsWords * 4 + padded, 0);
  b[0] = opcode;
  b[4] = ahsWords;
  b.writeUIntBE(dataLength, 5, 3);
  b.fill(fill, 48 + ahsWords * 4, 48 + ahsWords * 4 + dataLength);
  return b;
}

function feed(c: DataInCorrupter, stream: Buffer, chunk: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunk) out.push(c.process(Buffer.from(stream.subarray(i, i + chunk))));
  return Buffer.concat(out);
}

test('flips byte 0 of the data segment of every 16th Data-In with >= 512 bytes, nothing else', () => {
  const parts: Buffer[] = [];
  parts.push(pdu(0x23, 100, 0x11)); // Login Response: never touched
  for (let i = 0; i < 32; i++) {
    parts.push(pdu(0x25, 1000 + i, 0x22, i % 3)); // Data-In, some with AHS, odd lengths (padding)
    parts.push(pdu(0x21, 0, 0)); // SCSI Response, no data
    parts.push(pdu(0x25, 100, 0x33)); // short Data-In: not counted
  }
  const stream = Buffer.concat(parts);
  for (const chunk of [1, 7, 48, 1500, stream.length]) {
    const c = new DataInCorrupter();
    const out = feed(c, stream, chunk);
    assert.equal(out.length, stream.length);
    const diffs: number[] = [];
    for (let i = 0; i < out.length; i++) if (out[i] !== stream[i]) diffs.push(i);
    assert.equal(c.corrupted, 2, `chunk ${chunk}`);
    assert.equal(diffs.length, 2, `chunk ${chunk}`);
    // The 16th and 32nd long Data-In: index 15 and 31 in the loop; compute their data offsets.
    const expected: number[] = [];
    let off = parts[0]!.length;
    for (let i = 0; i < 32; i++) {
      if (i === 15 || i === 31) expected.push(off + 48 + (i % 3) * 4);
      off += parts[1 + i * 3]!.length + parts[2 + i * 3]!.length + parts[3 + i * 3]!.length;
    }
    assert.deepEqual(diffs, expected, `chunk ${chunk}`);
    for (const d of diffs) assert.equal(out[d], 0x22 ^ 0xff);
  }
});
