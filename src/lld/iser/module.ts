// The built-in `iser` LLD module (iSCSI Extensions for RDMA, RFC 7145): the registry's entry point.
//
// init parses --iser, loads the RDMA provider addon and fails with the reason when RDMA cannot be
// used (addon not built, no device, no RDMA CM), which leaves `iser: error` in `--mode system --op
// show` while the other LLDs go on serving; `tgtadm --mode lld --op start --lld iser` (or
// lldload) retries. With RDMA it listens on the portals and serves targets made with --lld iser.
import { LLD_API_VERSION, type LldContext, type LldModule } from '../api.js';
import { parseIserArgs } from './options.js';
import { defaultProbeDeps, probeRdma, type ProbeDeps } from './rdma-provider.js';
import { IserTargetDriver } from './driver.js';

/** init with injectable RDMA dependencies (tests pass a fake or loopback provider). */
export async function initIser(ctx: LldContext, deps: ProbeDeps = defaultProbeDeps()): Promise<IserTargetDriver> {
  // Arguments first: a typo in --iser is reported even on a machine without RDMA.
  const options = parseIserArgs(ctx.args);
  const { provider, devices } = probeRdma(deps);
  ctx.log('info', `RDMA devices: ${devices.map((d) => `${d.name} (${d.transport})`).join(', ')}`);
  const d = new IserTargetDriver(ctx, provider, devices, options);
  await d.start(options.portals);
  ctx.log('info', `iser listening on ${d.portalList().map((p) => `${p.host}:${p.port}`).join(', ')}`);
  return d;
}

const iserModule: LldModule = {
  kind: 'lld',
  apiVersion: LLD_API_VERSION,
  name: 'iser',
  init: (ctx) => initIser(ctx),
};

export default iserModule;
