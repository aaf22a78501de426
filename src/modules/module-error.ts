// Why the module registry refused an operation, in the registry's words (the management layer maps the reason to tgtadm's number).

/**
 * not-found: no module of that name; not-ready: it exists but is not ready to be used;
 * load-failed: the import failed or the module breaks the contract (kind, name, API version);
 * exists: a module of the name it declares is already loaded; busy: targets or LUs still use it;
 * init-failed: its init threw or rejected.
 */
export type ModuleErrorReason = 'not-found' | 'not-ready' | 'load-failed' | 'exists' | 'busy' | 'init-failed';

const DEFAULT_MESSAGE: Record<ModuleErrorReason, string> = {
  'not-found': "can't find the driver",
  'not-ready': "can't find the driver",
  'load-failed': 'load failed',
  exists: 'this driver is busy',
  busy: 'this driver is busy',
  'init-failed': 'init failed',
};

export class ModuleError extends Error {
  readonly reason: ModuleErrorReason;
  constructor(reason: ModuleErrorReason, detail?: string) {
    super(detail ?? DEFAULT_MESSAGE[reason]);
    this.name = 'ModuleError';
    this.reason = reason;
  }
}
