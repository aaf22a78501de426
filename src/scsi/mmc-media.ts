// MMC-6 the medium of a virtual DVD drive: profile, tray and lock state, and the parameter data of
// GET CONFIGURATION, READ TOC/PMA/ATIP, READ DISC/TRACK INFORMATION, GET EVENT STATUS NOTIFICATION,
// MECHANISM STATUS and READ BUFFER CAPACITY (what tgt's usr/mmc.c answers, plus the event and
// mechanism commands tgt lacks). Pure: no I/O; the MMC command layer moves the data.
import { Reason, type SenseReason } from './sense.js';

/** MMC-6 5.3.1 profile numbers tgt implements. */
export const Profile = { None: 0x0000, DvdRom: 0x0010, DvdPlusR: 0x001b } as const;
export type Profile = (typeof Profile)[keyof typeof Profile];

/** 2048-byte logical blocks (MMC-6 4.2.2.1). */
export const MMC_BLOCK_SHIFT = 11;
export const MMC_BLOCK_SIZE = 1 << MMC_BLOCK_SHIFT;
/** Capacity of a blank single-layer DVD+R in blocks (tgt's last possible lead-out, 0x230540). */
export const DVD_PLUS_R_BLOCKS = 0x230540;

/** GET EVENT STATUS NOTIFICATION media event codes (MMC-6 Table 157). */
const MediaEvent = { NoChange: 0, EjectRequest: 1, NewMedia: 2, MediaRemoval: 3 } as const;

export type MmcResult = Buffer | SenseReason;

export class MmcMedium {
  profile: Profile = Profile.None;
  /** Bytes of the image (it grows as a DVD+R is written). */
  size = 0;
  trayOpen = false;
  /** PREVENT ALLOW MEDIUM REMOVAL: prevent bits set by any initiator. */
  prevent = 0;
  /** RESERVE TRACK size in blocks (a DVD+R becomes a DVD-ROM when it is written to the end). */
  reservedBlocks = 0;
  private pendingEvent: number = MediaEvent.NoChange;

  /** A medium (image file) of `size` bytes is in the tray: an empty file is a blank DVD+R. */
  insert(size: number): void {
    this.size = size;
    this.profile = size === 0 ? Profile.DvdPlusR : Profile.DvdRom;
    this.trayOpen = false;
    this.reservedBlocks = 0;
    this.pendingEvent = MediaEvent.NewMedia;
  }

  /** The medium is gone (eject, or `tgtadm --op update --params path=` with no file). */
  remove(trayOpen: boolean): void {
    if (this.profile !== Profile.None) this.pendingEvent = MediaEvent.MediaRemoval;
    this.profile = Profile.None;
    this.size = 0;
    this.trayOpen = trayOpen;
  }

  get present(): boolean {
    return this.profile !== Profile.None;
  }

  get blocks(): number {
    return Math.floor(this.size / MMC_BLOCK_SIZE);
  }

  /** NOT READY reason when there is no medium (tray open or closed), else null. */
  notPresent(): SenseReason | null {
    if (this.present) return null;
    return this.trayOpen ? Reason.MediumNotPresentTrayOpen : Reason.MediumNotPresentTrayClosed;
  }

  /** A READ or WRITE is allowed on this profile (DVD-ROM is read-only; a blank DVD+R has nothing to read). */
  checkIo(write: boolean): SenseReason | null {
    const np = this.notPresent();
    if (np) return np;
    if (this.profile === Profile.DvdRom && write) return Reason.CannotWriteIncompatibleFormat;
    if (this.profile === Profile.DvdPlusR && !write) return Reason.LbaOutOfRange;
    return null;
  }

  /** A DVD+R write ended at block `end`: the image grew; writing the reserved track closes it. */
  wrote(endBlock: number): void {
    this.size = Math.max(this.size, endBlock * MMC_BLOCK_SIZE);
    if (this.profile === Profile.DvdPlusR && this.reservedBlocks !== 0 && endBlock === this.reservedBlocks) this.profile = Profile.DvdRom;
  }

  /** CLOSE TRACK/SESSION: the disc is finalized and reads as a DVD-ROM. */
  close(): SenseReason | null {
    const np = this.notPresent();
    if (np) return np;
    this.profile = Profile.DvdRom;
    return null;
  }

  /** START STOP UNIT with LOEJ: eject (start=false) or load (start=true); `reload` re-inserts the image. */
  loadEject(start: boolean, reload: () => number | null): SenseReason | null {
    if (!start) {
      if (this.prevent !== 0) return Reason.MediumRemovalPrevented;
      this.remove(true);
      return null;
    }
    const size = reload();
    if (size === null) this.trayOpen = false;
    else this.insert(size);
    return null;
  }

  /** READ CAPACITY(10) (MMC-6 6.23): last LBA (0 on a blank disc) and 2048. */
  readCapacity(): MmcResult {
    const np = this.notPresent();
    if (np) return np;
    const b = Buffer.alloc(8);
    const n = this.blocks;
    b.writeUInt32BE(n === 0 ? 0 : n > 0xffffffff ? 0xffffffff : n - 1, 0); // 0 RETURNED LOGICAL BLOCK ADDRESS
    b.writeUInt32BE(MMC_BLOCK_SIZE, 4); // 4 BLOCK LENGTH IN BYTES
    return b;
  }

  /** GET CONFIGURATION (MMC-6 6.6): RT 0 all, 1 current only, 2 just the starting feature. */
  getConfiguration(rt: number, start: number, serial8: Buffer): MmcResult {
    if (rt === 3) return Reason.InvalidFieldInCdb;
    const p = this.profile;
    const rom = p === Profile.DvdRom;
    const plusR = p === Profile.DvdPlusR;
    const cur = (current: boolean, version = 0, persistent = false): number => (version << 2) | (persistent ? 2 : 0) | (current ? 1 : 0);
    // [feature code, current, descriptor bytes after the 4-byte header]
    const features: [number, boolean, number, number[]][] = [
      // Profile List: DVD-ROM then DVD+R, each with its CurrentP bit
      [0x0000, true, cur(true, 0, true), [0x00, 0x10, rom ? 1 : 0, 0, 0x00, 0x1b, plusR ? 1 : 0, 0]],
      [0x0001, true, cur(true, 0, true), [0, 0, 0, 2]], // Core: physical interface ATAPI
      [0x0002, true, cur(true, 0, true), [0, 0, 0, 0]], // Morphing
      [0x0003, true, cur(true, 0, true), [0x29, 0, 0, 0]], // Removable Medium: tray, eject, lock
      [0x0010, rom, cur(rom), [0, 0, 8, 0, 0, 0x10, 0x01, 0]], // Random Readable: 2048, blocking 16, PP
      [0x001d, false, 0, []], // Multi-Read (tgt reports it, never current)
      [0x001f, rom, cur(rom), []], // DVD Read
      [0x002b, plusR, cur(plusR), [0x01, 0, 0, 0]], // DVD+R: write supported
      [0x0100, true, cur(true, 0, true), []], // Power Management
      [0x0105, true, cur(true, 0, true), []], // Timeout
      [0x0107, rom, cur(rom, 3), [0x1f, 0, 0, 0]], // Real Time Streaming
      [0x0108, true, cur(true, 0, true), [...serial8.subarray(0, 8), ...Buffer.alloc(Math.max(0, 8 - serial8.length))]], // LUN Serial Number
      [0x010a, plusR, cur(plusR), [0x46, 0x44, 0x43, 0, 0x53, 0x44, 0x43, 0, 0x54, 0x4f, 0x43, 0]], // DCBs: FDC, SDC, TOC
    ];
    const parts: Buffer[] = [];
    const header = Buffer.alloc(8);
    header.writeUInt16BE(p, 6); // 6 CURRENT PROFILE
    parts.push(header);
    for (const [code, current, flags, body] of features) {
      if (code < start) continue;
      if (rt === 2 && code !== start) continue;
      if (rt === 1 && !current) continue;
      const d = Buffer.alloc(4 + body.length);
      d.writeUInt16BE(code, 0); // 0 FEATURE CODE
      d[2] = flags; // 2 VERSION | PERSISTENT | CURRENT
      d[3] = body.length; // 3 ADDITIONAL LENGTH
      Buffer.from(body).copy(d, 4);
      parts.push(d);
    }
    const b = Buffer.concat(parts);
    b.writeUInt32BE(b.length - 4, 0); // 0 DATA LENGTH
    return b;
  }

  /** READ TOC/PMA/ATIP (MMC-6 6.26): format 0 (TOC) and 1 (session info) of the one data track. */
  readToc(msf: boolean, format: number, track: number): MmcResult {
    const np = this.notPresent();
    if (np) return np;
    if (this.profile === Profile.DvdPlusR && this.blocks === 0) return Reason.InvalidFieldInCdb; // a blank disc has no track
    const addr = (lba: number): number[] => {
      if (!msf) return [(lba >>> 24) & 0xff, (lba >>> 16) & 0xff, (lba >>> 8) & 0xff, lba & 0xff];
      const f = lba + 150; // MSF counts from 00:02:00 (MMC-6 6.26.3.2)
      return [0, Math.floor(f / 4500) & 0xff, Math.floor(f / 75) % 60, f % 75];
    };
    // Track descriptor: 1 ADR=1 | CONTROL=4 (data track), 2 TRACK NUMBER, 4..7 TRACK START ADDRESS
    const desc = (n: number, lba: number): number[] => [0, 0x14, n, 0, ...addr(lba)];
    let body: number[];
    if (format === 0) {
      if (track <= 1) body = [1, 1, ...desc(1, 0), ...desc(0xaa, this.blocks)];
      else if (track === 0xaa) body = [1, 1, ...desc(0xaa, this.blocks)];
      else return Reason.InvalidFieldInCdb;
    } else if (format === 1) {
      body = [1, 1, ...desc(1, 0)]; // first/last complete session, first track of the last session
    } else {
      return Reason.InvalidFieldInCdb;
    }
    const b = Buffer.alloc(2 + body.length);
    b.writeUInt16BE(body.length, 0); // 0 TOC DATA LENGTH
    Buffer.from(body).copy(b, 2);
    return b;
  }

  /** READ DISC INFORMATION (MMC-6 6.22), data type 000b: 34 bytes. */
  discInformation(): MmcResult {
    const np = this.notPresent();
    if (np) return np;
    const b = Buffer.alloc(34);
    b.writeUInt16BE(0x20, 0); // 0 DISC INFORMATION LENGTH
    const rom = this.profile === Profile.DvdRom;
    b[2] = rom ? 0x0e : 0x00; // 2 ERASABLE | STATE OF LAST SESSION | DISC STATUS: complete+finalized / empty
    b[3] = 1; // 3 NUMBER OF FIRST TRACK ON DISC
    b[4] = 1; // 4 NUMBER OF SESSIONS (LSB)
    b[5] = 1; // 5 FIRST TRACK NUMBER IN LAST SESSION (LSB)
    b[6] = 1; // 6 LAST TRACK NUMBER IN LAST SESSION (LSB)
    b[7] = rom ? 0x00 : 0x10; // 7 DID_V | DBC_V | URU | DAC_V
    if (!rom) b.writeUInt32BE(DVD_PLUS_R_BLOCKS, 20); // 20 LAST POSSIBLE LEAD-OUT START ADDRESS
    return b;
  }

  /** READ TRACK INFORMATION (MMC-6 6.27): address type 0 (LBA) or 1 (track number 1). */
  trackInformation(type: number, number: number): MmcResult {
    const np = this.notPresent();
    if (np) return np;
    if (type > 1 || (type === 1 && number !== 1)) return Reason.InvalidFieldInCdb;
    const b = Buffer.alloc(36);
    b.writeUInt16BE(34, 0); // 0 DATA LENGTH
    b[2] = 1; // 2 TRACK NUMBER (LSB)
    b[3] = 1; // 3 SESSION NUMBER (LSB)
    const n = this.blocks;
    if (this.profile === Profile.DvdRom) {
      b[5] = 0x04; // 5 TRACK MODE: data, uninterrupted
      b[6] = 0x01; // 6 DATA MODE 1
      b[7] = 0x02; // 7 LRA_V
      b.writeUInt32BE(0x10, 20); // 20 FIXED PACKET SIZE (16 blocks)
      b.writeUInt32BE(n, 24); // 24 TRACK SIZE
      b.writeUInt32BE(Math.max(0, n - 1), 28); // 28 LAST RECORDED ADDRESS
    } else {
      const size = this.reservedBlocks || DVD_PLUS_R_BLOCKS;
      b[5] = 0x07; // 5 TRACK MODE
      b[6] = n === 0 ? 0x41 : 0x01; // 6 BLANK | DATA MODE 1
      b[7] = 0x01; // 7 NWA_V
      b.writeUInt32BE(n, 12); // 12 NEXT WRITABLE ADDRESS
      b.writeUInt32BE(Math.max(0, size - n), 16); // 16 FREE BLOCKS
      b.writeUInt32BE(0x10, 20); // 20 FIXED PACKET SIZE
      b.writeUInt32BE(size, 24); // 24 TRACK SIZE
      b.writeUInt32BE(Math.max(0, n - 1), 28); // 28 LAST RECORDED ADDRESS
    }
    return b;
  }

  /** READ BUFFER CAPACITY (MMC-6 6.21): a 4096-block buffer, half free; only while writing a DVD+R. */
  bufferCapacity(inBlocks: boolean): MmcResult {
    const np = this.notPresent();
    if (np) return np;
    if (this.profile !== Profile.DvdPlusR) return Reason.CannotWriteIncompatibleFormat;
    const b = Buffer.alloc(12);
    b.writeUInt16BE(10, 0); // 0 DATA LENGTH
    const len = inBlocks ? 0x1000 : 0x1000 << MMC_BLOCK_SHIFT;
    if (inBlocks) b[3] = 1; // 3 BLOCK
    b.writeUInt32BE(inBlocks ? 0 : len, 4); // 4 LENGTH OF THE BUFFER (reserved in block mode)
    b.writeUInt32BE(len >>> 1, 8); // 8 AVAILABLE LENGTH OF BUFFER / BLANK LENGTH
    return b;
  }

  /**
   * GET EVENT STATUS NOTIFICATION (MMC-6 6.7), polled only: the media class (4). A pending
   * new-media or removal event is reported once, then "no change".
   */
  eventStatus(polled: boolean, classRequest: number): MmcResult {
    if (!polled) return Reason.InvalidFieldInCdb; // asynchronous notification is not supported
    const SUPPORTED = 0x10; // media class
    if ((classRequest & SUPPORTED) === 0) {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(2, 0); // 0 EVENT DESCRIPTOR LENGTH
      b[2] = 0x80; // 2 NEA, no class
      b[3] = SUPPORTED; // 3 SUPPORTED EVENT CLASSES
      return b;
    }
    const b = Buffer.alloc(8);
    b.writeUInt16BE(6, 0);
    b[2] = 4; // 2 NOTIFICATION CLASS: media
    b[3] = SUPPORTED;
    b[4] = this.pendingEvent; // 4 MEDIA EVENT CODE
    b[5] = (this.present ? 0x02 : 0) | (this.trayOpen ? 0x01 : 0); // 5 MEDIA PRESENT | DOOR OR TRAY OPEN
    this.pendingEvent = MediaEvent.NoChange;
    return b;
  }

  /** MECHANISM STATUS (MMC-6 6.11): no changer, idle, tray state, no slot table. */
  mechanismStatus(): Buffer {
    const b = Buffer.alloc(8);
    b[1] = this.trayOpen ? 0x10 : 0; // 1 MECHANISM STATE idle | DOOR OPEN
    return b; // 2..4 CURRENT LBA 0, 5 NUMBER OF SLOTS 0, 6..7 SLOT TABLE LENGTH 0
  }
}
