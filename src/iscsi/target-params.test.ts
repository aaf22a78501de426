// Tests for tgt-compatible per-target parameters (tgt usr/iscsi/target.c), expected text captured from Debian tgtd 1.0.85.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TargetParams, cStrtolU32, cAtoi, type ParamSetResult } from './target-params.js';

const DEFAULT_SHOW = `nop_interval=0
nop_count=0
MaxRecvDataSegmentLength=8192
HeaderDigest=None
DataDigest=None
InitialR2T=Yes
MaxOutstandingR2T=1
ImmediateData=Yes
FirstBurstLength=65536
MaxBurstLength=262144
DataPDUInOrder=Yes
DataSequenceInOrder=Yes
ErrorRecoveryLevel=0
IFMarker=No
OFMarker=No
DefaultTime2Wait=2
DefaultTime2Retain=20
OFMarkInt=Reject
IFMarkInt=Reject
MaxConnections=1
RDMAExtensions=Yes
TargetRecvDataSegmentLength=262144
InitiatorRecvDataSegmentLength=262144
MaxOutstandingUnexpectedPDUs=0
MaxXmitDataSegmentLength=8192
MaxQueueCmd=128
`;

test('default show text equals tgtd 1.0.85 byte for byte but for the declared MaxRecvDataSegmentLength', () => {
  // stgt declares 262144 where tgt declares 8192 (README "Differences from tgt"): with 8 KiB Data-Out
  // PDUs a 1 MiB write is 128 PDUs, and the initiator's per-PDU work sets the pace (BENCHMARKS.md).
  assert.equal(new TargetParams().showText(), DEFAULT_SHOW.replace('MaxRecvDataSegmentLength=8192', 'MaxRecvDataSegmentLength=262144'));
});

test('update sequence reproduces tgtd results and final text', () => {
  const p = new TargetParams();
  // tgtd answered 'invalid' with 17 (invalid request) and 'ok' with 0.
  const cases: [string, string, ParamSetResult][] = [
    ['Bogus', 'x', 'invalid'],
    ['HeaderDigest', 'CRC32C', 'ok'],
    ['DataDigest', 'crc32c', 'invalid'],
    ['MaxRecvDataSegmentLength', '100', 'invalid'],
    ['maxrecvdatasegmentlength', '0x10000', 'ok'],
    ['InitialR2T', 'yes', 'invalid'],
    ['InitialR2T', 'No', 'ok'],
    ['ErrorRecoveryLevel', '3', 'invalid'],
    ['OFMarkInt', '5', 'ok'],
    ['MaxQueueCmd', '600', 'invalid'],
    ['MaxOutstandingUnexpectedPDUs', '1', 'invalid'],
    ['nop_count', '7', 'ok'],
    ['nop_interval', 'abc', 'ok'],
    ['FirstBurstLength', '010', 'invalid'],
    ['DefaultTime2Wait', '-1', 'invalid'],
  ];
  for (const [n, v, rc] of cases) assert.equal(p.set(n, v), rc, `${n}=${v}`);
  const expected = DEFAULT_SHOW.replace('nop_count=0', 'nop_count=7')
    .replace('MaxRecvDataSegmentLength=8192', 'MaxRecvDataSegmentLength=65536')
    .replace('HeaderDigest=None', 'HeaderDigest=CRC32C')
    .replace('InitialR2T=Yes', 'InitialR2T=No')
    .replace('OFMarkInt=Reject', 'OFMarkInt=Irrelevant');
  assert.equal(p.showText(), expected);
  assert.equal(p.value('InitialR2T'), 0);
  assert.equal(p.digestAllowsCrc32c('HeaderDigest'), true);
  assert.equal(p.digestAllowsCrc32c('DataDigest'), false);
});

test('nop quirks: case-sensitive prefix, atoi at fixed offset', () => {
  const p = new TargetParams();
  assert.equal(p.set('nop_interval', '5'), 'ok');
  assert.equal(p.set('nop_count', '3'), 'ok');
  assert.equal(p.set('NOP_count', '4'), 'invalid');
  assert.equal(p.set('nop_countX', '9'), 'ok');
  assert.ok(p.showText().startsWith('nop_interval=5\nnop_count=0\nMaxRecv'));
});

test('redirect show variants', () => {
  const p = new TargetParams();
  assert.equal(p.set('RedirectAddress', '10.0.0.1'), 'ok');
  assert.equal(p.set('RedirectPort', '3261'), 'ok');
  assert.equal(p.showText(), 'RedirectAddress=10.0.0.1\nRedirectPort=3261\nRedirectReason=Unknown\n');
  assert.equal(p.set('RedirectReason', 'Bogus'), 'invalid');
  assert.equal(p.set('RedirectReason', 'Permanent'), 'ok');
  assert.equal(p.showText(), 'RedirectAddress=10.0.0.1\nRedirectPort=3261\nRedirectReason=Permanent\n');
  assert.equal(p.set('RedirectCallback', '/bin/true'), 'ok');
  assert.equal(p.showText(), 'RedirectCallback=/bin/true\n');
  assert.equal(p.redirected, true);
});

test('C number parsing', () => {
  assert.equal(cStrtolU32('0x10000'), 65536);
  assert.equal(cStrtolU32('010'), 8);
  assert.equal(cStrtolU32('-1'), 4294967295);
  assert.equal(cStrtolU32('12abc'), 12);
  assert.equal(cStrtolU32('abc'), 0);
  assert.equal(cAtoi(' 42x'), 42);
  assert.equal(cAtoi(''), 0);
});
