// tgtimg: makes media image files for tgtd (tape, DVD+R, disk); a drop-in for tgt's usr/tgtimg.c.
//
// Messages, exit codes and the `--op show` dump are tgt 1.0.85's, byte for byte (the Debian binary
// is the oracle in test/devices/tgtimg.test.ts). One addition: a non-thin disk image is written
// chunk by chunk, with a progress bar on stderr when stderr is a terminal.
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { GetoptLong, type LongOption } from './getopt.js';
import {
  BLK_HDR_SIZE, BlkType, CartType, FIRST_HDR_OFFSET, MAM_OFFSET, MAM_SIZE, TAPE_FORMAT_VERSION,
  decodeHeader, decodeMam, newTapeImage, tapeMediaType, type BlkHeader,
} from '../scsi/ssc-format.js';

const PROGRAM = 'tgtimg';
const VERSION = '1.0.85';
const EINVAL = 22;
const SHORT_OPTIONS = 'ho:Y:b:s:t:f:';
const LONG_OPTIONS: readonly LongOption[] = [
  { name: 'help', hasArg: false, val: 'h' },
  { name: 'op', hasArg: true, val: 'o' },
  { name: 'device-type', hasArg: true, val: 'Y' },
  { name: 'barcode', hasArg: true, val: 'b' },
  { name: 'size', hasArg: true, val: 's' },
  { name: 'type', hasArg: true, val: 't' },
  { name: 'file', hasArg: true, val: 'f' },
  // long-only in tgt (its short option string has no T)
  { name: 'thin-provisioning', hasArg: false, val: 'T' },
];

const USAGE = `Usage: ${PROGRAM} [OPTION]
Linux SCSI Target Framework Image File Utility, version ${VERSION}

  --op new --device-type tape --barcode=[code] --size=[size] --type=[type] --file=[path] [--thin-provisioning]
\t\t\tcreate a new tape image file.
\t\t\t[code] is a string of chars.
\t\t\t[size] is media size(in megabytes).
\t\t\t[type] is media type 
\t\t\t\t(data, clean or WORM) for tape devices
\t\t\t\t(dvd+r) for cd devices
\t\t\t\t(disk) for disk devices
\t\t\t[path] is a newly created file
  --op show --device-type tape --file=[path]
\t\t\tdump the tape image file contents.
\t\t\t[path] is the tape image file
  --thin-provisioning   create a sparse file for the media
  --help                display this help and exit

Report bugs to <stgt@vger.kernel.org>.
`;

export interface TgtimgIo {
  stdout(s: string): void;
  stderr(s: string): void;
  /** Seconds since the epoch (the tape serial number embeds it). */
  now(): number;
  /** stderr is a terminal: draw the progress bar. */
  tty: boolean;
}

/** Ends the run the way tgtimg's exit() calls do. */
class Exit {
  constructor(readonly code: number) {}
}

/** strerror(3) texts for the errors file creation and reading meet. */
const STRERROR: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EEXIST: 'File exists',
  EIO: 'Input/output error',
  EFBIG: 'File too large',
  ETXTBSY: 'Text file busy',
};

function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return STRERROR[code] ?? code;
}

/** C's sscanf("%d"/"%" SCNu64): leading blanks, optional sign, digits; 0 when nothing parses. */
function scanInt(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

/** ctime(3): "Tue Dec  1 15:30:21 2026\n" in local time. */
function ctime(t: number): string {
  const d = new Date(t * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getDay()]!;
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getMonth()]!;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${day} ${mon} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}\n`;
}

/** tgtimg --op show's line for one block header. */
export function headerLine(h: BlkHeader): string {
  const name: Record<number, string> = {
    [BlkType.UncompressedData]: ' Uncompressed data',
    [BlkType.Filemark]: '         Filemark',
    [BlkType.Bot]: 'Beginning of Tape',
    [BlkType.Eod]: '      End of Data',
    [BlkType.Noop]: '      No Operation',
  };
  const i32 = (n: number): number => n | 0;
  const head = `${name[h.blkType] ?? '      Unknown type'}(${i32(h.blkType)})`;
  if (h.blkType === BlkType.Bot) {
    return `${head}: Capacity ${i32(h.blkSize)} MB, Blk No.: ${h.blkNum}, prev ${h.prev}, curr ${h.curr}, next ${h.next}\n`;
  }
  return `${head}: Blk No. ${h.blkNum}, prev ${h.prev}, curr ${h.curr},  next ${h.next}, sz ${i32(h.ondiskSize)}\n`;
}

const CART_NAMES: Record<number, string> = {
  [CartType.Unspecified]: 'Unspecified',
  [CartType.Data]: 'Data',
  [CartType.Clean]: 'Cleaning',
  [CartType.Diagnostics]: 'Diagnostics',
  [CartType.Worm]: 'WORM',
  [CartType.Microcode]: 'Microcode',
};

function pread(fd: number, len: number, pos: number): Buffer | null {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? b : null;
}

/** Reads one header; tgt warns "crc error" on stderr and goes on. */
function readHeader(fd: number, off: number, io: TgtimgIo): BlkHeader | null {
  const b = pread(fd, BLK_HDR_SIZE, off);
  if (b === null) return null;
  const d = decodeHeader(b);
  if (!d.crcOk) io.stderr('crc error\n');
  return d.header;
}

function tapeShow(path: string, io: TgtimgIo): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    io.stderr(`${PROGRAM}: can't open ${path}, ${strerror(e)}\n`);
    throw new Exit(1);
  }
  try {
    let h = readHeader(fd, 0, io);
    if (h === null) {
      // perror() after a short read: errno is still 0.
      io.stderr('Could not read blk header: Success\n');
      throw new Exit(1);
    }
    const raw = pread(fd, MAM_SIZE, MAM_OFFSET);
    if (raw === null) {
      io.stderr('Could not read MAM: Success\n');
      throw new Exit(1);
    }
    const mam = decodeMam(raw);
    if (mam.tapeFmtVersion !== TAPE_FORMAT_VERSION) {
      io.stdout(`Unknown media format version ${mam.tapeFmtVersion.toString(16)}\n`);
      throw new Exit(1);
    }
    let out = `Media     : ${mam.barcode}\n`;
    out += ` type     : ${CART_NAMES[mam.mediumType] ?? 'Unknown'}\n`;
    out += `Media serial number : ${mam.mediumSerialNumber}, `;
    // The creation time follows the last '_' of the serial (tgt ignores an '_' in front).
    const us = mam.mediumSerialNumber.lastIndexOf('_');
    if (us > 0) out += `created ${ctime(scanInt(mam.mediumSerialNumber.slice(us + 1)))}`;
    out += '\n';
    out += headerLine(h);
    io.stdout(out);
    while (h.blkType !== BlkType.Eod) {
      const next: BlkHeader | null = readHeader(fd, h.next, io);
      if (next === null) {
        io.stdout('Could not read complete blk header - short read!!\n');
        break;
      }
      io.stdout(headerLine(next));
      // A header pointing at itself would loop forever in tgt; a sane file never has one.
      if (next.next === h.next && next.blkType !== BlkType.Eod) break;
      h = next;
    }
  } finally {
    closeSync(fd);
  }
}

/** creat(2) with mode 0660 (before umask), truncating an existing file. */
function createFile(path: string, io: TgtimgIo): number {
  try {
    return openSync(path, 'w', 0o660);
  } catch (e) {
    io.stderr(`Failed creating file: ${strerror(e)}\n`);
    throw new Exit(2);
  }
}

function usageError(io: TgtimgIo, msg: string): never {
  io.stderr(`${PROGRAM}: ${msg}\n`);
  io.stderr(`Try \`${PROGRAM} --help' for more information.\n`);
  throw new Exit(EINVAL);
}

function tapeNew(path: string, barcode: string | null, capacity: string | null, type: string | null, io: TgtimgIo): void {
  if (type === null) usageError(io, 'Missing media type: WORM, CLEAN or DATA');
  const mt = tapeMediaType(type);
  if (mt === null) usageError(io, 'Media type must be WORM, CLEAN or DATA for tape devices');
  if (barcode === null) usageError(io, 'Missing the barcode param');
  if (capacity === null) usageError(io, 'Missing the capacity param');
  const size = scanInt(capacity) || 8000;
  io.stdout(`blk_sz: ${size | 0}, next ${FIRST_HDR_OFFSET}, ${FIRST_HDR_OFFSET}\n`);
  io.stdout(`Sizeof(mam): ${MAM_SIZE}, sizeof(h): ${BLK_HDR_SIZE}\n`);
  const img = newTapeImage(barcode, size, mt, io.now());
  const fd = createFile(path, io);
  try {
    writeSync(fd, img, 0, img.length, 0);
  } catch (e) {
    io.stderr(`Unable to write header: ${strerror(e)}\n`);
    throw new Exit(1);
  } finally {
    closeSync(fd);
  }
}

function cdNew(path: string, type: string | null, io: TgtimgIo): void {
  if (type === null) usageError(io, 'Missing media type: DVD+R');
  if (!type.toLowerCase().startsWith('dvd+r')) usageError(io, 'Media type must be DVD+R for cd devices');
  closeSync(createFile(path, io));
  io.stdout(`Created blank DVD+R image file : ${path}\n`);
}

const MB = 1024 * 1024;
/** Images at least this big get a progress bar (when stderr is a terminal). */
const PROGRESS_MIN_BYTES = 64 * MB;

/** One line redrawn in place: "[#####.....]  42% 420/1000 MB". */
export function progressLine(doneMb: number, totalMb: number, width = 40): string {
  const frac = totalMb === 0 ? 1 : doneMb / totalMb;
  const n = Math.round(frac * width);
  return `\r[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${doneMb}/${totalMb} MB`;
}

function diskNew(path: string, capacity: string | null, type: string | null, thin: boolean, io: TgtimgIo): void {
  if (type === null) usageError(io, 'Missing media type: DISK');
  if (!type.toLowerCase().startsWith('disk')) usageError(io, 'Media type must be DISK for disk devices');
  if (capacity === null) usageError(io, 'Missing the capacity param');
  const sizeMb = scanInt(capacity) >>> 0;
  if (sizeMb === 0) {
    io.stdout('Capacity must be > 0\n');
    throw new Exit(3);
  }
  const fd = createFile(path, io);
  try {
    if (thin) {
      ftruncateSync(fd, sizeMb * MB);
    } else {
      // tgt calls posix_fallocate; Node has none, so the blocks are allocated by writing zeros.
      const zeros = Buffer.alloc(MB);
      const bar = io.tty && sizeMb * MB >= PROGRESS_MIN_BYTES;
      for (let i = 0; i < sizeMb; i++) {
        writeSync(fd, zeros, 0, MB, i * MB);
        if (bar && (i % 16 === 15 || i === sizeMb - 1)) io.stderr(progressLine(i + 1, sizeMb));
      }
      if (bar) io.stderr('\n');
      if (fstatSync(fd).size !== sizeMb * MB) throw Object.assign(new Error('short'), { code: 'EIO' });
    }
  } catch (e) {
    if (e instanceof Exit) throw e;
    io.stdout('posix_fallocate failed\n');
    throw new Exit(3);
  } finally {
    closeSync(fd);
  }
  io.stdout(`Created blank DISK image file : ${path}\n`);
}

/** Runs tgtimg over argv (argv[0] is the program path, as glibc's messages use it); returns the exit code. */
export function runTgtimg(argv: readonly string[], io: TgtimgIo): number {
  try {
    let op: 'new' | 'show' | null = null;
    let dev: 'tape' | 'cd' | 'disk' = 'tape';
    let barcode: string | null = null;
    let size: string | null = null;
    let type: string | null = null;
    let path: string | null = null;
    let thin = false;
    const g = new GetoptLong(argv, SHORT_OPTIONS, LONG_OPTIONS);
    for (let ev = g.next(); ev !== null; ev = g.next()) {
      if (ev.kind === 'error') {
        io.stderr(ev.message);
        // tgt prints optarg, which is NULL after getopt's own complaint.
        usageError(io, "unrecognized option '(null)'");
      }
      const arg = ev.arg ?? '';
      switch (ev.ch) {
        case 'o':
          if (arg !== 'new' && arg !== 'show') {
            io.stderr(`${PROGRAM}: unknown operation: ${arg}\n`);
            throw new Exit(1);
          }
          op = arg;
          break;
        case 'Y':
          if (arg !== 'tape' && arg !== 'cd' && arg !== 'disk') {
            io.stderr(`${PROGRAM}: unknown target type: ${arg}\n`);
            throw new Exit(EINVAL);
          }
          dev = arg;
          break;
        case 'b':
          barcode = arg;
          break;
        case 's':
          size = arg;
          break;
        case 't':
          type = arg;
          break;
        case 'f':
          path = arg;
          break;
        case 'T':
          thin = true;
          break;
        case 'h':
          io.stdout(USAGE);
          throw new Exit(0);
      }
    }
    if (g.operands.length > 0) usageError(io, `unrecognized option '${g.operands[0]}'`);
    if (op === null) usageError(io, 'specify the operation type');
    if (path === null) usageError(io, 'specify a newly created file');
    if (dev === 'tape') {
      if (op === 'new') tapeNew(path, barcode, size, type, io);
      else tapeShow(path, io);
    } else if (op !== 'new') {
      usageError(io, 'unknown the operation type');
    } else if (dev === 'cd') {
      cdNew(path, type, io);
    } else {
      diskNew(path, size, type, thin, io);
    }
    return 0;
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  }
}

export function main(): void {
  const code = runTgtimg([process.argv[1] ?? PROGRAM, ...process.argv.slice(2)], {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    now: () => Math.floor(Date.now() / 1000),
    tty: process.stderr.isTTY === true,
  });
  process.exitCode = code;
}

