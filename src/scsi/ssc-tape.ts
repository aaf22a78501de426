// SSC-3 4.2 the medium of a virtual tape drive: position, blocks, filemarks, EOD, early warning,
// over tgt's virtual tape file (ssc-format.ts) on any backing device.
//
// The position is the block header the next READ would return ("current"). A write replaces the
// current object and everything after it with the new block and a new EOD (tape semantics).
// Results are data: null on success, or a TapeSense the SSC command layer turns into sense.
// Tape commands are strictly sequential, so every operation is queued behind the previous one.
import type { BackingDevice } from '../bs/api.js';
import { Reason, buildSense, type SenseReason } from './sense.js';
import {
  BLK_HDR_SIZE, BlkType, CartType, FIRST_HDR_OFFSET, MAM_OFFSET, MAM_SIZE, TAPE_FORMAT_VERSION,
  decodeHeader, decodeMam, encodeHeader, type BlkHeader, type Mam,
} from './ssc-format.js';

/** A tape condition: the reason plus the FILEMARK/EOM/ILI bits and INFORMATION (a signed residue). */
export interface TapeSense {
  reason: SenseReason;
  filemark?: boolean;
  eom?: boolean;
  ili?: boolean;
  /** INFORMATION field: residue in blocks (fixed) or bytes (variable); may be negative (overlength). */
  info?: number;
}

export interface TapeRead {
  data: Buffer;
  sense: TapeSense | null;
}

/** SSC-3 READ POSITION short form facts. */
export interface TapePosition {
  /** Logical object number of the current position (0 at BOP); filemarks are logical objects. */
  block: number;
  /** LOGICAL FILE IDENTIFIER: the filemarks between BOP and the position (SSC-3 7.5 long form). */
  file: number;
  bop: boolean;
  /** Past the early-warning point. */
  eow: boolean;
}

/** The early-warning zone before the end of the medium: 1/16 of it, at most 8 MiB. */
export function earlyWarningZone(capacity: number): number {
  return Math.min(Math.floor(capacity / 16), 8 * 1024 * 1024);
}

/** Space codes of SPACE(6) (SSC-3 7.7 table). */
export const SpaceCode = { Blocks: 0, Filemarks: 1, EndOfData: 3 } as const;

class TapeIoError extends Error {}

export class VirtualTape {
  /** The header at the current position. */
  private c!: BlkHeader;
  /** Filemarks between BOP and `c`, kept by every move (the format links objects, it does not number files). */
  private fileNumber = 0;
  private queue: Promise<unknown> = Promise.resolve();
  mam!: Mam;

  private constructor(private readonly dev: BackingDevice) {}

  /** Opens a tape file: checks the BOT header and the MAM version, positions at BOP. */
  static async open(dev: BackingDevice): Promise<VirtualTape> {
    const t = new VirtualTape(dev);
    if (dev.size < FIRST_HDR_OFFSET + BLK_HDR_SIZE) throw new Error('backing file too small - not correct media format');
    const bot = await t.header(0);
    if (bot.blkType !== BlkType.Bot) throw new Error('not a tgt virtual tape: no beginning-of-tape header');
    t.mam = decodeMam(await t.readAt(MAM_OFFSET, MAM_SIZE));
    if (t.mam.tapeFmtVersion !== TAPE_FORMAT_VERSION) throw new Error(`unknown media format version ${t.mam.tapeFmtVersion.toString(16)}`);
    t.c = await t.header(bot.next);
    return t;
  }

  get capacity(): number {
    return this.mam.maxCapacity;
  }

  get mediumType(): number {
    return this.mam.mediumType;
  }

  /** Runs `op` after every queued operation; an I/O failure becomes MEDIUM ERROR. */
  private run<T>(op: () => Promise<T>, onIoError: (e: unknown) => T): Promise<T> {
    const p = this.queue.then(op).catch(onIoError);
    this.queue = p;
    return p;
  }

  private readAt(offset: number, len: number): Promise<Buffer> {
    const b = Buffer.alloc(len);
    return new Promise((resolve, reject) => this.dev.read(offset, b, (e) => (e ? reject(new TapeIoError(e.message)) : resolve(b))));
  }

  private writeAt(offset: number, data: Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => this.dev.write(offset, data, (e) => (e ? reject(new TapeIoError(e.message)) : resolve())));
  }

  private flushDev(): Promise<void> {
    return new Promise((resolve, reject) => this.dev.flush((e) => (e ? reject(new TapeIoError(e.message)) : resolve())));
  }

  private async header(offset: number): Promise<BlkHeader> {
    return decodeHeader(await this.readAt(offset, BLK_HDR_SIZE)).header;
  }

  private async forward(): Promise<void> {
    const passed = this.c.blkType === BlkType.Filemark;
    this.c = await this.header(this.c.next);
    if (passed) this.fileNumber++;
  }

  /** The object before the current one, or null at BOP. */
  private async previous(): Promise<BlkHeader | null> {
    if (this.c.curr === FIRST_HDR_OFFSET) return null;
    const p = await this.header(this.c.prev);
    return p.blkType === BlkType.Bot ? null : p;
  }

  position(): TapePosition {
    const block = this.c.blkNum - 1;
    return { block, file: this.fileNumber, bop: block === 0, eow: this.c.curr > this.capacity - earlyWarningZone(this.capacity) };
  }

  /** REWIND / LOAD: back to BOP. */
  rewind(): Promise<TapeSense | null> {
    return this.run(async () => {
      const bot = await this.header(0);
      this.c = await this.header(bot.next);
      this.fileNumber = 0;
      return null;
    }, () => ({ reason: Reason.SequentialPositioningError }));
  }

  /** READ(6) variable: one block, at most `length` bytes (SSC-3 4.2.x incorrect-length rules). */
  readVariable(length: number): Promise<TapeRead> {
    return this.run(async (): Promise<TapeRead> => {
      const h = this.c;
      if (h.blkType === BlkType.Eod) return { data: Buffer.alloc(0), sense: { reason: Reason.EndOfDataDetected, eom: this.position().eow, info: length } };
      if (h.blkType === BlkType.Filemark) {
        await this.forward();
        return { data: Buffer.alloc(0), sense: { reason: Reason.FilemarkDetected, filemark: true, info: length } };
      }
      const n = Math.min(length, h.ondiskSize);
      const data = n > 0 ? await this.readAt(h.curr + BLK_HDR_SIZE, n) : Buffer.alloc(0);
      await this.forward();
      if (h.ondiskSize === length) return { data, sense: null };
      return { data, sense: { reason: Reason.NoAdditionalSense, ili: true, info: length - h.ondiskSize } };
    }, () => ({ data: Buffer.alloc(0), sense: { reason: Reason.UnrecoveredReadError } }));
  }

  /** READ(6) fixed: `count` blocks of `blockLength`; stops at a filemark, EOD or a block of another length. */
  readFixed(count: number, blockLength: number): Promise<TapeRead> {
    return this.run(async (): Promise<TapeRead> => {
      const parts: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        const h = this.c;
        const residue = count - i;
        if (h.blkType === BlkType.Eod) return { data: Buffer.concat(parts), sense: { reason: Reason.EndOfDataDetected, eom: this.position().eow, info: residue } };
        if (h.blkType === BlkType.Filemark) {
          await this.forward();
          return { data: Buffer.concat(parts), sense: { reason: Reason.FilemarkDetected, filemark: true, info: residue } };
        }
        if (h.ondiskSize !== blockLength) {
          await this.forward();
          return { data: Buffer.concat(parts), sense: { reason: Reason.NoAdditionalSense, ili: true, info: residue } };
        }
        parts.push(await this.readAt(h.curr + BLK_HDR_SIZE, blockLength));
        await this.forward();
      }
      return { data: Buffer.concat(parts), sense: null };
    }, () => ({ data: Buffer.alloc(0), sense: { reason: Reason.UnrecoveredReadError } }));
  }

  /** Appends one object at the current position and a new EOD after it. */
  private async append(type: number, data: Buffer | null): Promise<void> {
    const len = data?.length ?? 0;
    const cur: BlkHeader = { ...this.c, blkType: type, ondiskSize: len, blkSize: len, next: this.c.curr + BLK_HDR_SIZE + len };
    const eod: BlkHeader = { ondiskSize: 0, blkSize: 0, blkType: BlkType.Eod, blkNum: cur.blkNum + 1, prev: cur.curr, curr: cur.next, next: cur.next };
    // Data and the new EOD first, then the header that links them in: a crash leaves the old EOD valid.
    const tail = [encodeHeader(eod)];
    if (data !== null && len > 0) await this.writeAt(cur.curr + BLK_HDR_SIZE, [data, ...tail]);
    else await this.writeAt(eod.curr, tail);
    await this.writeAt(cur.curr, [encodeHeader(cur)]);
    this.c = eod;
    if (type === BlkType.Filemark) this.fileNumber++;
  }

  /**
   * WRITE(6): the blocks in order. Past the early-warning point the write still succeeds with
   * EOM set (NO SENSE, 00/02); a block that would end beyond the capacity is not written:
   * VOLUME OVERFLOW with the residue (blocks for fixed mode, bytes for variable).
   */
  write(blocks: readonly Buffer[], fixed: boolean): Promise<TapeSense | null> {
    return this.run(async (): Promise<TapeSense | null> => {
      if (this.mam.mediumType !== CartType.Data && this.mam.mediumType !== CartType.Worm) return { reason: Reason.CannotWriteIncompatibleFormat };
      for (let i = 0; i < blocks.length; i++) {
        const b = blocks[i]!;
        if (this.c.curr + 2 * BLK_HDR_SIZE + b.length > this.capacity) {
          return { reason: Reason.VolumeOverflow, eom: true, info: fixed ? blocks.length - i : b.length };
        }
        await this.append(BlkType.UncompressedData, b);
      }
      if (this.position().eow) return { reason: Reason.EndOfMediumDetected, eom: true, info: 0 };
      return null;
    }, () => ({ reason: Reason.WriteError }));
  }

  /** WRITE FILEMARKS(6): `count` filemarks at the position, then everything is made durable. */
  writeFilemarks(count: number): Promise<TapeSense | null> {
    return this.run(async (): Promise<TapeSense | null> => {
      for (let i = 0; i < count; i++) await this.append(BlkType.Filemark, null);
      await this.flushDev();
      if (count > 0 && this.position().eow) return { reason: Reason.EndOfMediumDetected, eom: true, info: 0 };
      return null;
    }, () => ({ reason: Reason.WriteError }));
  }

  /** ERASE: the medium ends at the position (a new EOD here). */
  erase(): Promise<TapeSense | null> {
    return this.run(async () => {
      const eod: BlkHeader = { ...this.c, blkType: BlkType.Eod, ondiskSize: 0, blkSize: 0, next: this.c.curr };
      await this.writeAt(eod.curr, [encodeHeader(eod)]);
      await this.flushDev();
      this.c = eod;
      return null;
    }, () => ({ reason: Reason.WriteError }));
  }

  /** SPACE(6) (SSC-3 7.7): `count` is signed; a negative count spaces toward BOP. */
  space(code: number, count: number): Promise<TapeSense | null> {
    return this.run(async (): Promise<TapeSense | null> => {
      if (code === SpaceCode.EndOfData) {
        while (this.c.blkType !== BlkType.Eod) await this.forward();
        return null;
      }
      if (code !== SpaceCode.Blocks && code !== SpaceCode.Filemarks) return { reason: Reason.InvalidFieldInCdb };
      const blocks = code === SpaceCode.Blocks;
      if (count >= 0) {
        for (let done = 0; done < count;) {
          const h = this.c;
          if (h.blkType === BlkType.Eod) return { reason: Reason.EndOfDataDetected, eom: this.position().eow, info: count - done };
          await this.forward();
          if (h.blkType === BlkType.Filemark) {
            // Spacing blocks stops after a filemark (on its EOP side).
            if (blocks) return { reason: Reason.FilemarkDetected, filemark: true, info: count - done };
            done++;
          } else if (blocks) done++;
        }
        return null;
      }
      for (let done = 0; done < -count;) {
        const p = await this.previous();
        if (p === null) return { reason: Reason.BeginningOfMediumDetected, eom: true, info: -count - done };
        this.c = p;
        if (p.blkType === BlkType.Filemark) this.fileNumber--;
        if (p.blkType === BlkType.Filemark) {
          // Reverse: the position ends on the BOP side of the filemark.
          if (blocks) return { reason: Reason.FilemarkDetected, filemark: true, info: -count - done };
          done++;
        } else if (blocks) done++;
      }
      return null;
    }, () => ({ reason: Reason.MediumFormatCorrupted }));
  }

  /** Waits for every queued operation (unload, close). */
  async drain(): Promise<void> {
    await this.queue.catch(() => undefined);
  }
}

export { TapeIoError };

/**
 * Sense bytes for a tape condition. Fixed format (SPC-4 4.5.3): FILEMARK/EOM/ILI in byte 2 beside
 * the key, the signed residue in INFORMATION (bytes 3..6, VALID set). Descriptor format: an
 * information descriptor and a stream commands descriptor (SPC-4 4.5.2.6, type 04h).
 */
export function tapeSenseBytes(t: TapeSense, descriptor: boolean): Buffer {
  const bits = (t.filemark ? 0x80 : 0) | (t.eom ? 0x40 : 0) | (t.ili ? 0x20 : 0);
  const withInfo = t.info !== undefined;
  if (!descriptor) {
    const b = buildSense(t.reason, false, withInfo ? 0 : -1);
    b[2] = b[2]! | bits;
    if (withInfo) b.writeInt32BE(Math.max(-0x80000000, Math.min(0x7fffffff, t.info!)), 3);
    return b;
  }
  const base = buildSense(t.reason, true, withInfo ? 0 : -1);
  if (withInfo) base.writeBigInt64BE(BigInt(t.info!), 12);
  if (bits === 0) return base;
  // 0 TYPE 04h, 1 ADDITIONAL LENGTH 02h, 3 FILEMARK|EOM|ILI
  const stream = Buffer.from([0x04, 0x02, 0x00, bits]);
  const b = Buffer.concat([base, stream]);
  b[7] = b.length - 8;
  return b;
}
