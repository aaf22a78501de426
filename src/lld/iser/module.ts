// The built-in `iser` LLD module (iSCSI Extensions for RDMA, RFC 7145): the registry's entry point.
//
// init loads the RDMA provider addon and fails with the reason when RDMA cannot be used (addon not
// built, no device, no RDMA CM), which leaves `iser: error` in `--mode system --op show` while the
// other LLDs go on serving; `tgtadm --mode lld --op start --lld iser` (or lldload) retries.
// The iSER data transport itself is a later issue: until then a ready iser driver refuses targets
// ("this operation isn't supported") rather than accept ones nobody could reach.
import { LLD_API_VERSION, type LldContext, type LldDriver, type LldModule } from '../api.js';
import { TgtadmErr } from '../../scsi/tgtadm-codes.js';
import { parseIserArgs, type IserOptions } from './options.js';
import { defaultProbeDeps, probeRdma, type ProbeDeps, type RdmaDevice, type RdmaProvider } from './rdma-provider.js';

export class IserDriver implements LldDriver {
  readonly showsAccounts = true;
  private closed = false;

  constructor(
    readonly options: IserOptions,
    readonly provider: RdmaProvider,
    readonly devices: readonly RdmaDevice[],
  ) {}

  exit(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  targetCreate(): { err: number } {
    return { err: TgtadmErr.UnsupportedOperation };
  }

  targetDestroy(): { err: number } {
    return { err: 0 };
  }
}

/** init with injectable RDMA dependencies (tests pass a fake provider). */
export function initIser(ctx: LldContext, deps: ProbeDeps = defaultProbeDeps()): IserDriver {
  // Arguments first: a typo in --iser is reported even on a machine without RDMA.
  const options = parseIserArgs(ctx.args);
  const { provider, devices } = probeRdma(deps);
  ctx.log('info', `RDMA devices: ${devices.map((d) => `${d.name} (${d.transport})`).join(', ')}`);
  ctx.log('warn', `the iSER data transport is not implemented yet; nothing listens on port ${options.port}`);
  return new IserDriver(options, provider, devices);
}

const iserModule: LldModule = {
  kind: 'lld',
  apiVersion: LLD_API_VERSION,
  name: 'iser',
  init: (ctx) => initIser(ctx),
};

export default iserModule;
