// The built-in `iscsi` LLD module (iSCSI over TCP, RFC 7143): the registry's entry point.

import { LLD_API_VERSION, type LldModule } from '../api.js';
import { IscsiTcpDriver } from './driver.js';

const iscsiModule: LldModule = {
  kind: 'lld',
  apiVersion: LLD_API_VERSION,
  name: 'iscsi',
  init: (ctx) => IscsiTcpDriver.create(ctx),
};

export default iscsiModule;
