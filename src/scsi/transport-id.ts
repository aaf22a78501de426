// SPC-4 7.6.4.6 iSCSI TransportIDs: building one for an initiator port, parsing a SPEC_I_PT / REGISTER AND MOVE list.

/** SPC-4 7.6.1 Table 444 PROTOCOL IDENTIFIER for iSCSI. */
const PROTOCOL_ISCSI = 0x5;

/**
 * The TransportID of `port`: FORMAT CODE 01b (initiator port, "<name>,i,0x<isid>") or, for a bare
 * initiator name, 00b (initiator device). 0 FORMAT CODE(7:6)|PROTOCOL IDENTIFIER(3:0), 2..3
 * ADDITIONAL LENGTH, 4.. the NUL-terminated string padded with NULs to a multiple of 4 (at least 20).
 */
export function transportId(port: string): Buffer {
  const name = Buffer.from(port, 'utf8');
  let len = name.length + 1;
  len = Math.max(20, (len + 3) & ~3);
  const b = Buffer.alloc(4 + len);
  b[0] = (port.includes(',i,0x') ? 0x40 : 0x00) | PROTOCOL_ISCSI;
  b.writeUInt16BE(len, 2);
  name.copy(b, 4);
  return b;
}

/**
 * Parses consecutive iSCSI TransportIDs filling `buf` exactly. Returns the initiator ports
 * ("<name>,i,0x<isid>", ISID in lower case) or names, or null when one is malformed: another
 * protocol, a reserved format code, a length that is not a multiple of 4 or runs past the end, no
 * NUL terminator, an empty name, or a format 01b string without ",i,0x" and a 12-digit ISID.
 */
export function parseTransportIds(buf: Buffer): string[] | null {
  const out: string[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) return null;
    const format = buf[off]! >> 6;
    if ((buf[off]! & 0x0f) !== PROTOCOL_ISCSI || format > 1) return null;
    const len = buf.readUInt16BE(off + 2);
    if (len === 0 || len % 4 !== 0 || off + 4 + len > buf.length) return null;
    const body = buf.subarray(off + 4, off + 4 + len);
    const nul = body.indexOf(0);
    if (nul <= 0) return null;
    const s = body.subarray(0, nul).toString('utf8');
    if (format === 0) {
      if (s.includes(',')) return null;
      out.push(s);
    } else {
      const m = /^([^,]+),i,0x([0-9a-fA-F]{12})$/.exec(s);
      if (m === null) return null;
      out.push(`${m[1]},i,0x${m[2]!.toLowerCase()}`);
    }
    off += 4 + len;
  }
  return out;
}
