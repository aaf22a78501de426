// The "ssc" backing store: rdwr's file I/O under tgt's name for tape LUs (tgt's ssc store: the virtual tape file, whose format the tape device type reads).
// tgt forces this store for its device type; --op show and --mode system list it by this name.
import type { BackingStoreModule } from './api.js';
import rdwrModule from './rdwr.js';

const sscModule: BackingStoreModule = { ...rdwrModule, name: 'ssc', oflagsSupported: { sync: false, direct: false } };

export default sscModule;
