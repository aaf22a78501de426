// SPC-4 7.5 / SBC-4 6.5 Mode parameters: the mode pages of a disk LU (current/changeable/default/saved).
import { Reason } from './sense.js';
import type { SenseReason } from './sense.js';

/** One mode page (SPC-4 7.5.7): bytes include the page header (2 bytes, or 4 with SPF). */
export interface ModePage {
  readonly page: number;
  readonly subpage: number;
  current: Buffer;
  readonly dflt: Buffer;
  /** PC=01b: which bits MODE SELECT may change. */
  readonly changeable: Buffer;
}

function mkPage(page: number, subpage: number, body: number[], changeable: number[]): ModePage {
  const spf = subpage !== 0;
  const hdr = spf ? 4 : 2;
  const b = Buffer.alloc(hdr + body.length);
  const m = Buffer.alloc(hdr + body.length);
  if (spf) {
    // SPC-4 7.5.7 sub_page format: 0 PS|SPF|PAGE CODE, 1 SUBPAGE CODE, 2..3 PAGE LENGTH
    b[0] = 0x40 | page;
    b[1] = subpage;
    b.writeUInt16BE(body.length, 2);
  } else {
    // page_0 format: 0 PS|SPF=0|PAGE CODE, 1 PAGE LENGTH
    b[0] = page;
    b[1] = body.length;
  }
  Buffer.from(body).copy(b, hdr);
  b.copy(m, 0, 0, hdr);
  Buffer.from(changeable).copy(m, hdr);
  return { page, subpage, current: Buffer.from(b), dflt: b, changeable: m };
}

export const ModePageCode = {
  DisconnectReconnect: 0x02,
  Caching: 0x08,
  Control: 0x0a,
  InformationalExceptions: 0x1c,
  AllPages: 0x3f,
} as const;

/** Mode pages of one logical unit, in ascending page/subpage order. */
export class ModePages {
  readonly pages: ModePage[] = [];

  constructor() {
    // SPC-4 7.5.9 Disconnect-Reconnect: nothing to report for iSCSI (all zero).
    this.pages.push(mkPage(0x02, 0, new Array<number>(14).fill(0), new Array<number>(14).fill(0)));
    // SBC-4 6.5.5 Caching: 2 IC|ABPF|CAP|DISC|SIZE|WCE|MF|RCD; WCE (bit 2) and RCD (bit 0) settable.
    // Defaults as tgt: DISC|WCE, prefetch limits 0xffff, maximum prefetch ceiling 0xffff, FSW (byte 12 bit 7).
    this.pages.push(
      mkPage(
        0x08, 0,
        [0x14, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0, 0, 0, 0, 0, 0],
        [0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      ),
    );
    // SPC-4 7.5.8 Control: 2 TST|TMF_ONLY|DPICZ|D_SENSE|GLTSD|RLEC; 3 QUEUE ALGORITHM MODIFIER|QERR;
    // 4 VS|RAC|UA_INTLCK_CTRL|SWP; 8..9 BUSY TIMEOUT PERIOD; 10..11 EXTENDED SELF-TEST COMPLETION TIME.
    // D_SENSE (byte 2 bit 2) and SWP (byte 4 bit 3) are changeable.
    this.pages.push(mkPage(0x0a, 0, [0x02, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0], [0x04, 0, 0x08, 0, 0, 0, 0, 0, 0, 0]));
    // SPC-4 7.5.10 Control extension (0Ah/01h): 4 TCMOS|SCSIP|IALUAE, 5 INITIAL COMMAND PRIORITY, 6 MAX SENSE DATA LENGTH
    this.pages.push(mkPage(0x0a, 0x01, new Array<number>(28).fill(0), new Array<number>(28).fill(0)));
    // SPC-4 7.5.15 Informational Exceptions Control: 2 PERF|EBF|EWASC|DEXCPT|TEST|LOGERR; DEXCPT set.
    this.pages.push(mkPage(0x1c, 0, [0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0], new Array<number>(10).fill(0)));
  }

  /** Drops a page a device type does not have (a tape has no Caching page). */
  remove(page: number, subpage: number): void {
    const p = this.find(page, subpage);
    if (p) this.pages.splice(this.pages.indexOf(p), 1);
  }

  find(page: number, subpage: number): ModePage | undefined {
    return this.pages.find((p) => p.page === page && p.subpage === subpage);
  }

  private bit(page: number, sub: number, byte: number, mask: number): boolean {
    const p = this.find(page, sub);
    return p !== undefined && p.current.length > byte && (p.current[byte]! & mask) !== 0;
  }

  private setBit(page: number, sub: number, byte: number, mask: number, on: boolean): void {
    const p = this.find(page, sub);
    if (!p || p.current.length <= byte) return;
    p.current[byte] = on ? p.current[byte]! | mask : p.current[byte]! & ~mask;
  }

  /** Caching page WCE: writes may be cached; when clear every write is flushed before completion. */
  get wce(): boolean {
    return this.bit(0x08, 0, 2, 0x04);
  }
  /** Control page D_SENSE: return descriptor format sense data (SPC-4 4.5.1). */
  get dSense(): boolean {
    return this.bit(0x0a, 0, 2, 0x04);
  }
  set dSense(on: boolean) {
    this.setBit(0x0a, 0, 2, 0x04, on);
  }
  /** Control page SWP: software write protect (SBC-4 4.12). */
  get swp(): boolean {
    return this.bit(0x0a, 0, 4, 0x08);
  }

  /**
   * tgtadm `mode_page=pg:sub:len:b0:b1...`: replaces the page body (the bytes after the header) in
   * current and default values, creating the page if absent. Returns false on a malformed value.
   */
  setFromParam(value: string): boolean {
    const parts = value.split(':');
    if (parts.length < 3) return false;
    const nums = parts.map((s) => Number(s.trim()));
    if (nums.some((n) => !Number.isInteger(n) || n < 0 || n > 0xffff)) return false;
    const [page, sub, len] = nums as [number, number, number];
    if (page > 0x3e || sub > 0xfe || len > 0xffff) return false;
    const body = nums.slice(3);
    if (body.length > len || body.some((n) => n > 0xff)) return false;
    while (body.length < len) body.push(0);
    let p = this.find(page, sub);
    if (!p || p.dflt.length - (sub ? 4 : 2) !== len) {
      const old = p;
      p = mkPage(page, sub, body, old ? Array.from(old.changeable.subarray(sub ? 4 : 2)).slice(0, len) : []);
      if (old) this.pages.splice(this.pages.indexOf(old), 1, p);
      else {
        this.pages.push(p);
        this.pages.sort((a, b) => a.page - b.page || a.subpage - b.subpage);
      }
      // pad the changeable mask for a page that grew
      return true;
    }
    const hdr = sub ? 4 : 2;
    Buffer.from(body).copy(p.current, hdr);
    Buffer.from(body).copy(p.dflt, hdr);
    return true;
  }

  /**
   * Appends the selected pages for MODE SENSE (SPC-4 6.13): page 3Fh = all pages, subpage FFh = all
   * subpages. `pc` 0 current, 1 changeable, 2 default (3, saved, is refused by MODE SENSE: nothing is saved).
   * Returns null if the page/subpage is not supported (INVALID FIELD IN CDB).
   */
  collect(page: number, subpage: number, pc: number): Buffer[] | null {
    const out: Buffer[] = [];
    for (const p of this.pages) {
      const pageMatch = page === 0x3f || p.page === page;
      const subMatch = subpage === 0xff || p.subpage === subpage;
      if (!pageMatch || !subMatch) continue;
      out.push(pc === 1 ? p.changeable : pc === 2 ? p.dflt : p.current);
    }
    return out.length === 0 ? null : out;
  }

  /**
   * Applies a MODE SELECT parameter list's pages (after the header and block descriptors).
   * Every page must exist, have the right length, and change only changeable bits (SPC-4 6.11).
   * Validates all pages before changing any. Returns null, or the reason to fail with.
   */
  select(pagesData: Buffer): { reason: SenseReason | null; changed: boolean } {
    const updates: [ModePage, Buffer][] = [];
    let off = 0;
    while (off < pagesData.length) {
      if (pagesData.length - off < 2) return { reason: Reason.ParamListLengthError, changed: false };
      const spf = (pagesData[off]! & 0x40) !== 0;
      const page = pagesData[off]! & 0x3f;
      let sub = 0;
      let len: number;
      let hdr = 2;
      if (spf) {
        if (pagesData.length - off < 4) return { reason: Reason.ParamListLengthError, changed: false };
        sub = pagesData[off + 1]!;
        len = pagesData.readUInt16BE(off + 2);
        hdr = 4;
      } else {
        len = pagesData[off + 1]!;
      }
      const p = this.find(page, sub);
      if (!p || p.current.length !== hdr + len) return { reason: Reason.InvalidFieldInParamList, changed: false };
      if (off + hdr + len > pagesData.length) return { reason: Reason.ParamListLengthError, changed: false };
      const data = pagesData.subarray(off, off + hdr + len);
      for (let i = hdr; i < data.length; i++) {
        if (((data[i]! ^ p.current[i]!) & ~p.changeable[i]!) !== 0) {
          return { reason: Reason.InvalidFieldInParamList, changed: false };
        }
      }
      updates.push([p, data]);
      off += hdr + len;
    }
    let changed = false;
    for (const [p, data] of updates) {
      for (let i = spfHdr(p); i < data.length; i++) {
        const v = (p.current[i]! & ~p.changeable[i]!) | (data[i]! & p.changeable[i]!);
        if (v !== p.current[i]) changed = true;
        p.current[i] = v;
      }
    }
    return { reason: null, changed };
  }
}

function spfHdr(p: ModePage): number {
  return p.subpage !== 0 ? 4 : 2;
}
