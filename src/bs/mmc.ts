// The "mmc" backing store: rdwr's file I/O under tgt's name for cd/dvd LUs (tgt's mmc store: the ISO or DVD+R file).
// tgt forces this store for its device type; --op show and --mode system list it by this name.
import type { BackingStoreModule } from './api.js';
import rdwrModule from './rdwr.js';

const mmcModule: BackingStoreModule = { ...rdwrModule, name: 'mmc' };

export default mmcModule;
