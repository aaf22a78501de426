// The "smc" backing store: rdwr's file I/O under tgt's name for changer LUs (tgt's smc store: a file tgt opens and never reads).
// tgt forces this store for its device type; --op show and --mode system list it by this name.
import type { BackingStoreModule } from './api.js';
import rdwrModule from './rdwr.js';

const smcModule: BackingStoreModule = { ...rdwrModule, name: 'smc' };

export default smcModule;
