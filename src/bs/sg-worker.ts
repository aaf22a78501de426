// Worker thread of one sg/bsg device: runs its ioctls (SG_IO blocks until the device answers) off the event loop, one at a time, through koffi.
//
// Messages in: { id, fd, req, arg } (arg: the ioctl's argument bytes, e.g. an sg_io_hdr whose
// pointers address the main thread's buffers: one process, one address space). Out: { id, rc,
// errno, arg } with the argument as the kernel left it. A worker whose koffi cannot load answers
// every request with rc -1 and errno ENOSYS (the store then fails the commands, never the daemon).
import { parentPort } from 'node:worker_threads';

interface Koffi {
  load(path: string): { func(decl: string): (...args: unknown[]) => number };
  errno(): number;
}

export interface IoctlRequest {
  id: number;
  fd: number;
  req: number;
  arg: Uint8Array;
}

export interface IoctlReply {
  id: number;
  rc: number;
  errno: number;
  arg: Uint8Array;
}

const ENOSYS = 38;

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  let ioctl: ((fd: number, req: number, arg: Uint8Array) => number) | null = null;
  let errno: () => number = () => ENOSYS;
  try {
    const spec = 'koffi';
    const k = ((await import(spec)) as { default: Koffi }).default;
    const f = k.load('libc.so.6').func('int ioctl(int fd, unsigned long req, _Inout_ uint8_t *arg)');
    ioctl = (fd, req, arg) => f(fd, req, arg);
    errno = () => k.errno();
  } catch {
    ioctl = null;
  }
  port.on('message', (m: IoctlRequest) => {
    let rc = -1;
    let err = ENOSYS;
    if (ioctl !== null) {
      rc = ioctl(m.fd, m.req, m.arg);
      err = rc < 0 ? errno() : 0;
    }
    const reply: IoctlReply = { id: m.id, rc, errno: err, arg: m.arg };
    port.postMessage(reply, [m.arg.buffer as ArrayBuffer]);
  });
}

void main();
