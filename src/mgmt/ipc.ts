// tgt management IPC wire format: struct tgtadm_req / tgtadm_rsp (tgt usr/tgtadm.h; tgt-compat.md A1, §1.3).
//
// tgtadm writes a fixed 120-byte request header in host byte order (little endian on every platform
// stgt targets), then `len - 120` bytes of NUL-terminated "key=value,key=value" text. tgtd answers
// with an 8-byte header {err, len} and, on success, `len - 8` bytes of NUL-terminated text.

/** enum tgtadm_mode (numbering of usr/tgtadm.h). */
export const MODE_SYSTEM = 0;
export const MODE_TARGET = 1;
export const MODE_DEVICE = 2;
export const MODE_PORTAL = 3;
export const MODE_LLD = 4;
export const MODE_SESSION = 5;
export const MODE_CONNECTION = 6;
export const MODE_ACCOUNT = 7;

/** enum tgtadm_op. */
export const OP_NEW = 0;
export const OP_DELETE = 1;
export const OP_SHOW = 2;
export const OP_BIND = 3;
export const OP_UNBIND = 4;
export const OP_UPDATE = 5;
export const OP_STATS = 6;
export const OP_START = 7;
export const OP_STOP = 8;

/** enum tgtadm_account_dir. */
export const ACCOUNT_TYPE_INCOMING = 0;
export const ACCOUNT_TYPE_OUTGOING = 1;

/** tid tgtadm sends for account bind/unbind without --tid: the global (discovery) account list. */
export const GLOBAL_TID = -1;
/** lun tgtadm sends when --lun was not given (UINT64_MAX). */
export const LUN_UNSET = 0xffff_ffff_ffff_ffffn;

export const TGT_LLD_NAME_LEN = 64;
export const REQ_HDR_LEN = 120;
export const RSP_HDR_LEN = 8;
/** tgtd refuses request payloads above 8 KiB (usr/tgtd.h MAX_MGT_BUFSIZE). */
export const MAX_MGT_BUFSIZE = 8 * 1024;

/** Byte offsets in struct tgtadm_req (x86-64 layout, measured with gcc). */
const OFF_MODE = 0; //        enum tgtadm_mode mode
const OFF_OP = 4; //          enum tgtadm_op op
const OFF_LLD = 8; //         char lld[64]
const OFF_LEN = 72; //        uint32_t len (header + payload)
const OFF_TID = 76; //        int32_t tid
const OFF_SID = 80; //        uint64_t sid
const OFF_LUN = 88; //        uint64_t lun
const OFF_CID = 96; //        uint32_t cid
const OFF_HOST_NO = 100; //   uint32_t host_no
const OFF_DEVICE_TYPE = 104; // uint32_t device_type (SCSI peripheral type)
const OFF_AC_DIR = 108; //    uint32_t ac_dir
const OFF_PACK = 112; //      uint32_t pack
const OFF_FORCE = 116; //     uint32_t force

export interface IpcRequest {
  mode: number;
  op: number;
  /** Driver name, '' when tgtadm got no --lld (tgtd then uses driver 0, iscsi). */
  lld: string;
  /** Total length as sent (header + payload). */
  len: number;
  /** -1 (GLOBAL_TID) for global accounts, -1 also when tgtadm had no --tid. */
  tid: number;
  sid: bigint;
  /** LUN_UNSET when not given. */
  lun: bigint;
  cid: number;
  hostNo: number;
  deviceType: number;
  acDir: number;
  pack: number;
  force: number;
  /** The payload text without its trailing NUL ('' when empty). */
  payload: string;
}

/** A request with tgtadm's defaults (what tgtadm sends before options are applied). */
export function emptyRequest(): IpcRequest {
  return {
    mode: -1, op: -1, lld: '', len: REQ_HDR_LEN, tid: -1, sid: 0n, lun: LUN_UNSET,
    cid: 0, hostNo: 0, deviceType: 0, acDir: ACCOUNT_TYPE_INCOMING, pack: 0, force: 0, payload: '',
  };
}

/**
 * Encodes header + payload exactly as tgtadm does: the payload is followed by one NUL when it is
 * non-empty, and `len` counts header + payload + NUL (tgt concat_buf_finish). `req.len` is ignored.
 */
export function encodeRequest(req: IpcRequest): Buffer {
  const body = req.payload.length > 0 ? Buffer.from(req.payload + '\0', 'utf8') : Buffer.alloc(0);
  const buf = Buffer.alloc(REQ_HDR_LEN + body.length);
  buf.writeInt32LE(req.mode, OFF_MODE);
  buf.writeInt32LE(req.op, OFF_OP);
  // strncpy into 64 bytes: truncated, not necessarily NUL-terminated (tgtd forces lld[63] = 0).
  Buffer.from(req.lld, 'utf8').copy(buf, OFF_LLD, 0, TGT_LLD_NAME_LEN);
  buf.writeUInt32LE(REQ_HDR_LEN + body.length, OFF_LEN);
  buf.writeInt32LE(req.tid, OFF_TID);
  buf.writeBigUInt64LE(BigInt.asUintN(64, req.sid), OFF_SID);
  buf.writeBigUInt64LE(BigInt.asUintN(64, req.lun), OFF_LUN);
  buf.writeUInt32LE(req.cid >>> 0, OFF_CID);
  buf.writeUInt32LE(req.hostNo >>> 0, OFF_HOST_NO);
  buf.writeUInt32LE(req.deviceType >>> 0, OFF_DEVICE_TYPE);
  buf.writeUInt32LE(req.acDir >>> 0, OFF_AC_DIR);
  buf.writeUInt32LE(req.pack >>> 0, OFF_PACK);
  buf.writeUInt32LE(req.force >>> 0, OFF_FORCE);
  body.copy(buf, REQ_HDR_LEN);
  return buf;
}

/** Decodes the 120-byte header (payload left ''). `hdr` must hold at least REQ_HDR_LEN bytes. */
export function decodeRequestHeader(hdr: Buffer): IpcRequest {
  // lld is read up to the first NUL within 63 bytes, as tgtd truncates lld[63].
  const lldRaw = hdr.subarray(OFF_LLD, OFF_LLD + TGT_LLD_NAME_LEN - 1);
  const nul = lldRaw.indexOf(0);
  return {
    mode: hdr.readInt32LE(OFF_MODE),
    op: hdr.readInt32LE(OFF_OP),
    lld: lldRaw.toString('latin1', 0, nul < 0 ? lldRaw.length : nul),
    len: hdr.readUInt32LE(OFF_LEN),
    tid: hdr.readInt32LE(OFF_TID),
    sid: hdr.readBigUInt64LE(OFF_SID),
    lun: hdr.readBigUInt64LE(OFF_LUN),
    cid: hdr.readUInt32LE(OFF_CID),
    hostNo: hdr.readUInt32LE(OFF_HOST_NO),
    deviceType: hdr.readUInt32LE(OFF_DEVICE_TYPE),
    acDir: hdr.readUInt32LE(OFF_AC_DIR),
    pack: hdr.readUInt32LE(OFF_PACK),
    force: hdr.readUInt32LE(OFF_FORCE),
    payload: '',
  };
}

/** Payload bytes to text: up to the first NUL (C string semantics). */
export function decodePayload(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.toString('utf8', 0, nul < 0 ? body.length : nul);
}

/**
 * Encodes a response. On error tgtd sends only the 8-byte header (text is dropped, tgt
 * set_mtask_result); on success a non-empty text is followed by one NUL counted in `len`.
 */
export function encodeResponse(err: number, text: string): Buffer {
  const body = err === 0 && text.length > 0 ? Buffer.from(text + '\0', 'utf8') : Buffer.alloc(0);
  const buf = Buffer.alloc(RSP_HDR_LEN + body.length);
  buf.writeUInt32LE(err >>> 0, 0); //               uint32_t err
  buf.writeUInt32LE(RSP_HDR_LEN + body.length, 4); // uint32_t len (header + text)
  body.copy(buf, RSP_HDR_LEN);
  return buf;
}

export interface IpcResponseHeader {
  err: number;
  len: number;
}

export function decodeResponseHeader(hdr: Buffer): IpcResponseHeader {
  return { err: hdr.readUInt32LE(0), len: hdr.readUInt32LE(4) };
}

/** The `--params` part of a payload: tgtadm sends "targetOps <params>," or "portalOps <params>,". */
export interface ParsedPayload {
  /** key=value pairs outside the ops part, in order. */
  pairs: Array<[string, string]>;
  /** 'targetOps' or 'portalOps' when --params was given. */
  opsKind: 'targetOps' | 'portalOps' | null;
  /** The pairs inside --params (trailing ',' removed). */
  ops: Array<[string, string]>;
}

/**
 * Splits "k=v,k=v" into pairs. A segment with no '=' continues the previous value, because
 * `--name HeaderDigest --value CRC32C,None` arrives as "HeaderDigest=CRC32C,None".
 */
export function parsePairs(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (text.length === 0) return out;
  for (const seg of text.split(',')) {
    const eq = seg.indexOf('=');
    const last = out[out.length - 1];
    if (eq < 0) {
      if (last !== undefined) last[1] += ',' + seg;
      else if (seg.length > 0) out.push([seg, '']);
      continue;
    }
    out.push([seg.slice(0, eq), seg.slice(eq + 1)]);
  }
  // tgtadm terminates --params with ',' (an empty trailing segment): drop it.
  const tail = out[out.length - 1];
  if (tail !== undefined && tail[1].endsWith(',') && text.endsWith(',')) tail[1] = tail[1].slice(0, -1);
  return out;
}

export function parsePayload(payload: string): ParsedPayload {
  const m = /(^|,)(targetOps|portalOps) /.exec(payload);
  if (m === null) return { pairs: parsePairs(payload), opsKind: null, ops: [] };
  const head = payload.slice(0, m.index);
  const rest = payload.slice(m.index + m[0].length);
  return { pairs: parsePairs(head), opsKind: m[2] as 'targetOps' | 'portalOps', ops: parsePairs(rest) };
}
