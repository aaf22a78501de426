// Linux SG_IO request headers: sg v3 `struct sg_io_hdr` (scsi/sg.h, /dev/sgN) and v4 `struct sg_io_v4` (linux/bsg.h, /dev/bsg), packed and read back.
//
// Pure: the caller gives the addresses of its buffers (the kernel reads the CDB and Data-Out from
// them and writes Data-In and sense into them). Offsets are the x86-64/aarch64 LP64 layouts.
import type { PassthroughResult } from './api.js';

/** ioctl request numbers (scsi/sg.h). */
export const SG_IO = 0x2285;
export const SG_GET_VERSION_NUM = 0x2282;
export const SG_SET_RESERVED_SIZE = 0x2275;
/** tgt's reserved buffer size for an sg/bsg device (BS_SG_RESVD_SZ). */
export const SG_RESERVED_SIZE = 512 * 1024;
/** sg v3 is the oldest interface the store speaks (tgt: "sg driver prior to 3.x"). */
export const SG_MIN_VERSION = 30000;
/** Major number of /dev/sgN (linux/major.h SCSI_GENERIC_MAJOR). */
export const SCSI_GENERIC_MAJOR = 21;

export const SG_V3_SIZE = 88;
export const SG_V4_SIZE = 160;
/** The largest sense the kernel returns is 96 bytes (SCSI_SENSE_BUFFERSIZE); mx_sb_len is one byte. */
export const SENSE_MAX = 252;

/** sg_io_hdr.dxfer_direction. */
const SG_DXFER_NONE = -1;
const SG_DXFER_TO_DEV = -2;
const SG_DXFER_FROM_DEV = -3;
/** linux/bsg.h: protocol SCSI, subprotocol SCSI command, and queue at the tail (bsg queues at the head by default). */
const BSG_PROTOCOL_SCSI = 0;
const BSG_SUB_PROTOCOL_SCSI_CMD = 0;
const BSG_FLAG_Q_AT_TAIL = 0x10;

/** One request's shape: lengths, where its buffers are, its time limit. */
export interface SgRequest {
  cdbLen: number;
  dataOutLen: number;
  dataInLen: number;
  senseLen: number;
  timeoutMs: number;
  cdbAddr: bigint;
  dataOutAddr: bigint;
  dataInAddr: bigint;
  senseAddr: bigint;
}

/**
 * Fills an sg v3 header (88 bytes). sg v3 moves data one way only: a request with both Data-Out
 * and Data-In returns false (nothing written).
 */
export function packV3(h: Buffer, r: SgRequest): boolean {
  if (r.dataOutLen > 0 && r.dataInLen > 0) return false;
  h.fill(0, 0, SG_V3_SIZE);
  h.writeInt32LE(0x53, 0); // interface_id 'S'
  const out = r.dataOutLen > 0;
  const len = out ? r.dataOutLen : r.dataInLen;
  h.writeInt32LE(len === 0 ? SG_DXFER_NONE : out ? SG_DXFER_TO_DEV : SG_DXFER_FROM_DEV, 4); // dxfer_direction
  h[8] = r.cdbLen; // cmd_len
  h[9] = r.senseLen; // mx_sb_len
  h.writeUInt16LE(0, 10); // iovec_count: dxferp is one buffer
  h.writeUInt32LE(len, 12); // dxfer_len
  h.writeBigUInt64LE(len === 0 ? 0n : out ? r.dataOutAddr : r.dataInAddr, 16); // dxferp
  h.writeBigUInt64LE(r.cdbAddr, 24); // cmdp
  h.writeBigUInt64LE(r.senseAddr, 32); // sbp
  h.writeUInt32LE(r.timeoutMs, 40); // timeout (ms)
  h.writeUInt32LE(0, 44); // flags: indirect I/O (the kernel copies; no alignment needed)
  h.writeInt32LE(-1, 48); // pack_id
  return true;
}

/** Fills an sg v4 (bsg) header (160 bytes): Data-Out and Data-In may both be present. */
export function packV4(h: Buffer, r: SgRequest): void {
  h.fill(0, 0, SG_V4_SIZE);
  h.writeInt32LE(0x51, 0); // guard 'Q'
  h.writeUInt32LE(BSG_PROTOCOL_SCSI, 4);
  h.writeUInt32LE(BSG_SUB_PROTOCOL_SCSI_CMD, 8);
  h.writeUInt32LE(r.cdbLen, 12); // request_len
  h.writeBigUInt64LE(r.cdbAddr, 16); // request
  h.writeUInt32LE(r.senseLen, 44); // max_response_len
  h.writeBigUInt64LE(r.senseAddr, 48); // response
  h.writeUInt32LE(r.dataOutLen, 60); // dout_xfer_len
  h.writeUInt32LE(r.dataInLen, 68); // din_xfer_len
  h.writeBigUInt64LE(r.dataOutLen > 0 ? r.dataOutAddr : 0n, 72); // dout_xferp
  h.writeBigUInt64LE(r.dataInLen > 0 ? r.dataInAddr : 0n, 80); // din_xferp
  h.writeUInt32LE(r.timeoutMs, 88); // timeout (ms)
  h.writeUInt32LE(BSG_FLAG_Q_AT_TAIL, 92); // flags
}

/** Linux host byte (include/scsi/scsi_status.h DID_*) and driver byte codes the outcome depends on. */
const DID_OK = 0x00;
const DID_TIME_OUT = 0x03;
/** Host bytes that mean "try again": bus busy, reset, soft error, immediate retry, requeue, transport disrupted. */
const DID_RETRY = new Set([0x02, 0x08, 0x0b, 0x0c, 0x0d, 0x0e]);
const DRIVER_TIMEOUT = 0x06;

/** How the host finished a command, from its host and driver status. */
export function outcomeOf(hostStatus: number, driverStatus: number): PassthroughResult['outcome'] {
  if (hostStatus === DID_TIME_OUT || (driverStatus & 0x0f) === DRIVER_TIMEOUT) return 'timeout';
  if (hostStatus === DID_OK) return 'done';
  return DID_RETRY.has(hostStatus) ? 'busy' : 'failed';
}

function clampResid(resid: number, len: number): number {
  return Math.max(0, Math.min(len, len - resid));
}

/** Reads a completed sg v3 header; `sense` is the buffer whose address the request carried. */
export function unpackV3(h: Buffer, r: SgRequest, sense: Buffer): PassthroughResult {
  const resid = h.readInt32LE(72);
  const out = r.dataOutLen > 0;
  const moved = clampResid(resid, out ? r.dataOutLen : r.dataInLen);
  return {
    outcome: outcomeOf(h.readUInt16LE(68), h.readUInt16LE(70)),
    status: h[64]!,
    sense: sense.subarray(0, Math.min(h[67]!, sense.length)), // sb_len_wr
    dataInLength: out ? 0 : moved,
    dataOutLength: out ? moved : 0,
  };
}

/** Reads a completed sg v4 header. */
export function unpackV4(h: Buffer, r: SgRequest, sense: Buffer): PassthroughResult {
  return {
    outcome: outcomeOf(h.readUInt32LE(112), h.readUInt32LE(108)), // transport_status, driver_status
    status: h.readUInt32LE(116) & 0xff, // device_status
    sense: sense.subarray(0, Math.min(h.readUInt32LE(132), sense.length)), // response_len
    dataInLength: clampResid(h.readInt32LE(136), r.dataInLen), // din_resid
    dataOutLength: clampResid(h.readInt32LE(140), r.dataOutLen), // dout_resid
  };
}

/** The major and minor of a device number as glibc encodes dev_t (sys/sysmacros.h). */
export function majorMinor(rdev: number): { major: number; minor: number } {
  const d = BigInt(rdev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n)),
    minor: Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n)),
  };
}
