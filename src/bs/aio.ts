// "aio" backing store: the name tgt gives its libaio store (usr/bs_aio.c), which Longhorn's iSCSI frontend asks for (`--bstype aio`) and looks for in `--mode system --op show`.
//
// What tgt's aio shows and accepts, this one does: listed as plain "aio" (no "(bsoflags ...)"),
// `--bsoflags` refused (tgt: "bsoflags sync not supported by backing store aio", tgtadm's invalid
// request), `--bsopts` ignored, "Backing store type: aio" with empty flags in the LUN's show.
// The I/O path is the rdwr store's (this module wraps it, no second copy): pread/pwritev on
// libuv's pool, reads from the page cache on the loop thread, UNMAP punching holes, data made
// durable at SYNCHRONIZE CACHE, FUA and close. tgt's aio opens its file O_DIRECT and submits
// through libaio; JavaScript cannot hand the kernel the sector-aligned buffers O_DIRECT needs
// (every transfer would take rdwr's buffered O_SYNC fallback), so this store goes through the page
// cache. A native submission path (io_uring, issue 10's native I/O) can replace the wrapped store
// here without changing what tgtadm sees.
import rdwrModule from './rdwr.js';
import { BS_API_VERSION, type BackingStoreModule } from './api.js';

const aioModule: BackingStoreModule = {
  kind: 'bs',
  apiVersion: BS_API_VERSION,
  name: 'aio',
  // No oflagsSupported: like tgt's aio, every --bsoflags is refused.
  init: (ctx) => rdwrModule.init(ctx),
};

export default aioModule;
