// SMC-3 the elements of a virtual media changer: configuration from tgtadm `--params` (tgt's
// usr/smc.c tokens), the Element Address Assignment mode page, READ ELEMENT STATUS data and MOVE
// MEDIUM. Pure: loading a tape into a drive goes through the DriveHooks the caller gives.
import { Reason, type SenseReason } from './sense.js';

/** SMC-3 4.3 element types (READ ELEMENT STATUS ELEMENT TYPE CODE). */
export const ElementType = { Any: 0, MediumTransport: 1, Storage: 2, ImportExport: 3, DataTransfer: 4 } as const;

/** Bytes of a barcode tgt keeps (char barcode[11] with the NUL); a volume tag is 32. */
const BARCODE_MAX = 10;
const VOLTAG_LEN = 32;

export interface Element {
  readonly address: number;
  readonly type: number;
  full: boolean;
  barcode: string;
  volumeTag: string;
  /** Where the medium came from (SVALID / SOURCE STORAGE ELEMENT ADDRESS), 0 if unknown. */
  source: number;
  /** ASC/ASCQ reported for the element (a drive without a tid: 04/02 initializing command required). */
  asc: number;
  /** The tape drive behind a data transfer element. */
  drive: { tid: number; lun: number } | null;
}

/** What a data transfer element needs of its tape drive LU. */
export interface DriveHooks {
  /** The drive LU exists and its medium may be removed: null, or why not. */
  removable(tid: number, lun: number): SenseReason | null;
  /** Loads the tape file at `path` (load) or unloads the drive (path null): null, or why it failed. */
  loadUnload(tid: number, lun: number, path: string | null): Promise<SenseReason | null>;
  /** INQUIRY identity of the drive for DVCID: vendor (8), product (16), serial; null when there is no such LU. */
  identity(tid: number, lun: number): { peripheralType: number; vendor: string; product: string; serial: string } | null;
}

export type ConfigResult = 'ok' | 'invalid' | 'unknown-param';

/** Fields one `--params` string sets (tgt's sv_param, reset per request). */
interface Pending {
  operation: 'none' | 'add' | 'configure';
  elementType: number;
  startAddress: number;
  quantity: number;
  address: number;
  sides: number;
  clearSlot: number;
  barcode: string;
  volumeTag: string;
  tid: number;
  lun: number;
}

/** C's atoi: leading blanks, sign, digits; 0 otherwise. */
function atoi(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) | 0 : 0;
}

export class MediaChanger {
  /** In the order they were added (tgt's slot list). */
  readonly elements: Element[] = [];
  mediaHome: string | null = null;
  /** Transport Geometry ROTATE bit (sides > 1). */
  rotate = false;
  /** Element Address Assignment: first address and count per type (1..4). */
  private readonly assignment = new Map<number, { first: number; count: number }>();

  /**
   * Applies a tgtadm parameter string (`element_type=2,start_address=1000,quantity=8` adds
   * elements; `element_type=2,address=1000,barcode=TAPE01` fills one; `...,clear_slot=1` empties it;
   * `element_type=4,address=500,tid=1,lun=1` binds a drive; `media_home=/dir`). Tokens it does not
   * know are returned by `other` (the LU's own parameters): 'unknown-param' when nobody knows them.
   */
  configure(params: string, other: (token: string) => ConfigResult): ConfigResult {
    const p: Pending = {
      operation: 'none', elementType: 0, startAddress: 0, quantity: 0, address: 0, sides: 0, clearSlot: 0,
      barcode: '', volumeTag: '', tid: 0, lun: 0,
    };
    for (const tok of params.split(',')) {
      if (tok === '') continue;
      const eq = tok.indexOf('=');
      const key = eq < 0 ? tok : tok.slice(0, eq + 1);
      const v = eq < 0 ? '' : tok.slice(eq + 1);
      switch (key) {
        case 'element_type=': p.elementType = atoi(v); break;
        case 'start_address=': p.startAddress = atoi(v); p.operation = 'add'; break;
        case 'quantity=': p.quantity = atoi(v); break;
        case 'sides=': p.sides = atoi(v); break;
        case 'clear_slot=': p.clearSlot = atoi(v); break;
        case 'address=': p.address = atoi(v); p.operation = 'configure'; break;
        case 'barcode=': p.barcode = v.slice(0, 19); break; // tgt copies at most 19 characters
        case 'volume_tag=': p.volumeTag = v.slice(0, 31); break;
        case 'tid=': p.tid = atoi(v); break;
        case 'lun=': p.lun = atoi(v); break;
        case 'dump=': break; // tgt logs the slots at debug level
        case 'media_home=': this.mediaHome = v; break;
        default: {
          const r = other(tok);
          if (r !== 'ok') return r;
        }
      }
    }
    if (p.operation === 'add') return this.add(p);
    if (p.operation === 'configure') return this.configureOne(p);
    return 'ok';
  }

  private find(type: number, address: number): Element | undefined {
    return this.elements.find((e) => e.type === type && e.address === address);
  }

  private add(p: Pending): ConfigResult {
    const t = p.elementType;
    if (t < ElementType.MediumTransport || t > ElementType.DataTransfer || p.startAddress === 0 || p.quantity === 0) return 'invalid';
    if (this.find(t, p.startAddress)) return 'invalid';
    const a = this.assignment.get(t);
    this.assignment.set(t, {
      first: a && a.first !== 0 ? Math.min(a.first, p.startAddress) : p.startAddress,
      count: (a?.count ?? 0) + p.quantity,
    });
    for (let i = p.startAddress; i < p.startAddress + p.quantity; i++) {
      this.elements.push({
        address: i & 0xffff, type: t, full: false, barcode: '', volumeTag: '', source: 0,
        asc: t === ElementType.DataTransfer ? 0x0402 : 0, drive: null,
      });
    }
    return 'ok';
  }

  private configureOne(p: Pending): ConfigResult {
    switch (p.elementType) {
      case ElementType.MediumTransport:
        this.rotate = p.sides > 1;
        return 'ok';
      case ElementType.Storage:
      case ElementType.ImportExport: {
        const e = this.find(p.elementType, p.address);
        if (!e) return 'invalid';
        if (p.clearSlot) {
          this.empty(e);
          return 'ok';
        }
        if (p.barcode.length > BARCODE_MAX + 1 || p.volumeTag.length > VOLTAG_LEN) return 'invalid';
        e.barcode = p.barcode;
        e.volumeTag = p.volumeTag;
        e.full = true;
        e.source = 0;
        return 'ok';
      }
      case ElementType.DataTransfer: {
        if (p.tid === 0) return 'invalid';
        const e = this.find(p.elementType, p.address);
        if (!e) return 'invalid';
        e.asc = 0;
        e.drive = { tid: p.tid, lun: p.lun };
        return 'ok';
      }
      default:
        return 'invalid';
    }
  }

  private empty(e: Element): void {
    e.full = false;
    e.source = 0;
    e.barcode = '';
    e.volumeTag = '';
  }

  /** Mode page 1Dh Element Address Assignment parameters (SMC-3 7.3.3), bytes 2..19. */
  addressAssignment(): Buffer {
    const b = Buffer.alloc(18);
    // 2 FIRST MEDIUM TRANSPORT ELEMENT ADDRESS, 4 NUMBER OF..., 6 FIRST STORAGE, 8 NUMBER, 10 FIRST I/E, 12 NUMBER, 14 FIRST DT, 16 NUMBER
    const order = [ElementType.MediumTransport, ElementType.Storage, ElementType.ImportExport, ElementType.DataTransfer];
    order.forEach((t, i) => {
      const a = this.assignment.get(t);
      if (!a) return;
      b.writeUInt16BE(a.first & 0xffff, i * 4);
      b.writeUInt16BE(a.count & 0xffff, i * 4 + 2);
    });
    return b;
  }

  /**
   * READ ELEMENT STATUS (SMC-3 6.10): the header and one element status page per type (all four
   * in type order for type 0), elements at or above `start`, at most `max` of them.
   */
  readElementStatus(type: number, start: number, max: number, voltag: boolean, dvcid: boolean, hooks: DriveHooks): Buffer | SenseReason {
    if (type > ElementType.DataTransfer) return Reason.InvalidFieldInCdb;
    const types = type === ElementType.Any
      ? [ElementType.MediumTransport, ElementType.Storage, ElementType.ImportExport, ElementType.DataTransfer]
      : [type];
    const descLen = 12 + (voltag ? 36 : 0) + 4 + (dvcid ? 34 : 0);
    const pages: Buffer[] = [];
    let count = 0;
    let first = -1;
    for (const t of types) {
      const els = this.elements.filter((e) => e.type === t && e.address >= start).slice(0, Math.max(0, max - count));
      if (els.length === 0) continue;
      const page = Buffer.alloc(8 + els.length * descLen);
      page[0] = t; // 0 ELEMENT TYPE CODE
      page[1] = voltag ? 0x80 : 0; // 1 PVOLTAG
      page.writeUInt16BE(descLen, 2); // 2 ELEMENT DESCRIPTOR LENGTH
      page.writeUInt32BE(els.length * descLen, 4); // 5..7 BYTE COUNT OF DESCRIPTOR DATA AVAILABLE (byte 4 reserved)
      els.forEach((e, i) => this.descriptor(e, page.subarray(8 + i * descLen, 8 + (i + 1) * descLen), voltag, dvcid, hooks));
      if (first < 0) first = els[0]!.address;
      count += els.length;
      pages.push(page);
    }
    const h = Buffer.alloc(8);
    h.writeUInt16BE(first < 0 ? 0 : first, 0); // 0 FIRST ELEMENT ADDRESS REPORTED
    h.writeUInt16BE(count, 2); // 2 NUMBER OF ELEMENTS AVAILABLE
    const body = Buffer.concat(pages);
    h.writeUInt32BE(body.length, 4); // 5..7 BYTE COUNT OF REPORT AVAILABLE
    return Buffer.concat([h, body]);
  }

  private descriptor(e: Element, d: Buffer, voltag: boolean, dvcid: boolean, hooks: DriveHooks): void {
    d.writeUInt16BE(e.address, 0); // 0 ELEMENT ADDRESS
    let flags = e.full ? 0x01 : 0; // 2 FULL
    if (e.type !== ElementType.MediumTransport) flags |= 0x08; // ACCESS
    if (e.type === ElementType.ImportExport) flags |= 0x30; // INENAB | EXENAB
    if (e.asc !== 0) flags |= 0x04; // EXCEPT
    d[2] = flags;
    d[4] = e.asc >> 8; // 4 ADDITIONAL SENSE CODE
    d[5] = e.asc & 0xff; // 5 ADDITIONAL SENSE CODE QUALIFIER
    if (e.full && e.source !== 0) {
      d[9] = 0x80; // 9 SVALID
      d.writeUInt16BE(e.source, 10); // 10 SOURCE STORAGE ELEMENT ADDRESS
    }
    let o = 12;
    if (voltag) {
      // 12 PRIMARY VOLUME TAG INFORMATION: 32 bytes of tag, space padded, then 2 reserved + 2 sequence
      const tag = e.full ? (e.volumeTag !== '' ? e.volumeTag : e.barcode) : '';
      d.write(tag.padEnd(VOLTAG_LEN, ' ').slice(0, VOLTAG_LEN), o, VOLTAG_LEN, 'latin1');
      o += 36;
    }
    // IDENTIFICATION DESCRIPTOR: CODE SET, IDENTIFIER TYPE, reserved, IDENTIFIER LENGTH, identifier
    if (!dvcid) return;
    const id = e.drive ? hooks.identity(e.drive.tid, e.drive.lun) : null;
    if (!id) return;
    d[o] = 2; // ASCII
    d[o + 1] = 0; // vendor specific identifier
    d[o + 3] = 34;
    d.write(`${id.vendor.padEnd(8).slice(0, 8)}${id.product.padEnd(16).slice(0, 16)}${id.serial.padEnd(10).slice(0, 10)}`, o + 4, 34, 'latin1');
  }

  /** MOVE MEDIUM (SMC-3 6.6): src full, dest empty; into a drive the tape file <media_home>/<barcode> loads. */
  async move(src: number, dest: number, invert: boolean, hooks: DriveHooks): Promise<SenseReason | null> {
    const s = this.elements.find((e) => e.address === src);
    const d = this.elements.find((e) => e.address === dest);
    if (!s || !d) return Reason.InvalidElementAddress;
    if (!s.full) return Reason.MediumSourceEmpty;
    if (d.full) return Reason.MediumDestinationFull;
    if (invert && !this.rotate) return Reason.InvalidFieldInCdb;
    if (s.type === ElementType.DataTransfer && s.drive) {
      const why = hooks.removable(s.drive.tid, s.drive.lun);
      if (why) return why;
    }
    if (d.type === ElementType.DataTransfer) {
      if (!d.drive) return Reason.NotReadyCauseNotReportable;
      const path = `${this.mediaHome ?? ''}/${s.barcode}`;
      const why = await hooks.loadUnload(d.drive.tid, d.drive.lun, path);
      if (why) return why;
    }
    if (s.type === ElementType.DataTransfer && s.drive) await hooks.loadUnload(s.drive.tid, s.drive.lun, null);
    d.full = true;
    d.barcode = s.barcode;
    d.volumeTag = s.volumeTag;
    d.source = src;
    this.empty(s);
    return null;
  }
}
