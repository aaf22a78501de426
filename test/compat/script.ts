// The scripted tgtadm session the compat transcripts replay: every mode and op of tgtadm (tgt-compat.md A3, A4).
//
// One step per line. A plain line is tgtadm's arguments (after `-C <port>`), split on spaces.
// {DIR} is the daemon's private directory, {PORT} its iSCSI port, {PORT6} a free port for an
// IPv6 portal on ::1. Lines starting with '@' are actions:
//   @session IQN LUN INITIATOR   start iscsi-perf (libiscsi) in the background as INITIATOR, wait for its nexus
//   @endsession                  stop it and wait until the target shows no connection
//   @iscsi-ls INITIATOR          run iscsi-ls once and record only its exit status
//   @exited                      wait for the daemon to exit (after `--op delete --mode system`)
// A step ending in ` !stgt` is one where stgt deliberately answers differently from tgt (tgt
// documents it but fails it, tgt-compat.md A3; or tgt takes bad input): its stgt answer is
// asserted on its own (transcript.test.ts DIFFERS).

export const SCRIPT = `
# system, lld, portals
--mode sys --op show
--mo sys --op show
--mode=system --op=show
--mode lld --op show
--lld iscsi --mode lld --op show
--lld iser --mode target --op show
--lld nosuch --mode target --op show
--mode portal --op show
--mode pt --op show
--mode portal --op new --param portal=[::1]:{PORT6}
--mode portal --op new --param portal=127.0.0.1:{PORT}
--mode portal --op show
--mode portal --op delete --param portal=[::1]:{PORT6}
--mode portal --op delete --param portal=[::1]:{PORT6}
--mode portal --op new --param portal=not-an-address:1
--mode portal --op new
--mode portal --op show
--mode sys --op update --name debug --value on
--mode sys --op show
--mode sys --op update --name debug --value off
--mode sys --op update --name debug --value maybe
--mode sys --op update --name nosuch --value 1
--mode sys --op update --name State -v offline
--mode sys --op show
--mode sys --op update --name State -v ready
--mode sys --op update --name State -v sideways
--mode sys --op stat
# targets
--mode target --op show
--mode target --op new --tid 1 -T iqn.2024-01.test:t1
--mode target --op new --tid=2 --targetname=iqn.2024-01.test:t2
--mode tgt --op new -t3 -Tiqn.2024-01.test:t3
--mode target --op new --tid 1 -T iqn.2024-01.test:dup
--mode target --op new --tid 4 -T iqn.2024-01.test:t1
--mode target --op new --tid 5 -T iqn.2024-01.test:bad_name
--mode target --op new --tid 5 -T iqn.2024-01.test:bad/name
--mode target --op new --tid 0 -T iqn.2024-01.test:zero
--mode target --op new --tid 6
--mode target --op delete --tid 9
--mode target --op delete --tid 3
--mode target --op show
--mode target --op show --tid 1
--mode target --op show --tid 9
--mode target --op stat --tid 9
# logical units
--mode logicalunit --op new --tid 1 --lun 1 -b {DIR}/disk1.img
--mode lu --op new --tid 1 --lun 2 -b {DIR}/disk2.img --bsoflags sync
--mode lu --op new --tid 1 --lun 3 -b {DIR}/disk3.img --bsoflags direct --bstype rdwr
--mode lu --op new --tid 2 --lun 1 -b {DIR}/disk4.img --bsoflags sync:direct --blocksize 4096
--mode lu --op new --tid 1 --lun 1 -b {DIR}/disk1.img
--mode lu --op new --tid 9 --lun 1 -b {DIR}/disk1.img
--mode lu --op new --tid 1 --lun 4 -b {DIR}/missing.img
--mode lu --op new --tid 1 --lun 4 -b {DIR}/disk5.img --bsoflags bogus
--mode lu --op new --tid 1 --lun 4 -b {DIR}/disk5.img --bstype nosuch
--mode lu --op new --tid 1 --lun 4
--mode lu --op delete --tid 1 --lun 0
--mode lu --op delete --tid 1 --lun 9
--mode lu --op delete --tid 9 --lun 1
--mode lu --op delete --tid 1 --lun 3
--mode lu --op update --tid 1 --lun 1 --params vendor_id=VEND,product_id=PROD,product_rev=0042
--mode lu --op update --tid 1 --lun 1 --params scsi_id=myid,scsi_sn=mysn
--mode lu --op update --tid 1 --lun 2 --params readonly=1
--mode lu --op update --tid 1 --lun 2 --params removable=1
--mode lu --op update --tid 1 --lun 2 --params online=0
--mode lu --op update --tid 1 --lun 2 --params bogus=1
--mode lu --op update --tid 1 --lun 9 --params readonly=1
--mode lu --op update --tid 9 --lun 1 --params readonly=1
--mode lu --op stat --tid 9 --lun 1
--mode lu --op stat --tid 1 --lun 1
--mode lu --op stat --tid 1 --lun 9
--mode target --op show
# device types: cd (media change with path=), tape, changer (a virtual tape library: elements, barcodes, drives)
--mode target --op new --tid 7 -T iqn.2024-01.test:dev
--mode lu --op new --tid 7 --lun 1 -b {DIR}/cd1.iso --device-type cd
--mode lu --op new --tid 7 --lun 2 --device-type cd
--mode lu --op new --tid 7 --lun 3 -b {DIR}/cd1.iso --device-type cd --blocksize 4096
--mode lu --op new --tid 7 --lun 4 -b {DIR}/TAPE01 --device-type tape
--mode lu --op new --tid 7 --lun 5 --device-type tape
--mode lu --op new --tid 7 --lun 11 -b {DIR}/disk5.img --device-type tape !stgt
--mode lu --op delete --tid 7 --lun 11 !stgt
--mode lu --op new --tid 7 --lun 6 -b {DIR}/changer --device-type changer
--mode lu --op new --tid 7 --lun 7 --device-type changer
--mode lu --op new --tid 7 --lun 7 -b {DIR}/TAPE01 --device-type tape --bsoflags direct
--mode lu --op new --tid 7 --lun 7 -b {DIR}/cd2.iso --device-type bogus
--mode lu --op new --tid 7 --lun 7 -b {DIR}/cd2.iso --device-type disk --bstype mmc
--mode lu --op new --tid 7 --lun 8 -b {DIR}/cd2.iso --device-type cd --bstype rdwr --bsoflags sync
--mode target --op show
--mode lu --op update --tid 7 --lun 2 --params path={DIR}/cd2.iso
--mode lu --op update --tid 7 --lun 1 --params path={DIR}/cd2.iso
--mode lu --op update --tid 7 --lun 1 --params online=0
--mode lu --op update --tid 7 --lun 1 --params path={DIR}/missing.iso
--mode lu --op update --tid 7 --lun 1 --params path={DIR}/cd2.iso
--mode lu --op update --tid 7 --lun 3 --params online=0,path={DIR}/cd2.iso
--mode lu --op update --tid 7 --lun 3 --params online=0
--mode lu --op update --tid 7 --lun 3 --params online=1
--mode lu --op update --tid 7 --lun 5 --params path={DIR}/home/TAPE02
--mode lu --op update --tid 7 --lun 5 --params online=0
--mode lu --op update --tid 7 --lun 10 --params readonly=1
--mode target --op show
--mode lu --op update --tid 7 --lun 6 --params element_type=1,start_address=1,quantity=1
--mode lu --op update --tid 7 --lun 6 --params element_type=2,start_address=1000,quantity=4
--mode lu --op update --tid 7 --lun 6 --params element_type=3,start_address=10,quantity=1
--mode lu --op update --tid 7 --lun 6 --params element_type=4,start_address=500,quantity=2
--mode lu --op update --tid 7 --lun 6 --params element_type=4,address=500,tid=7,lun=5
--mode lu --op update --tid 7 --lun 6 --params element_type=4,address=501,tid=7,lun=4
--mode lu --op update --tid 7 --lun 6 --params element_type=2,address=1000,barcode=TAPE03
--mode lu --op update --tid 7 --lun 6 --params element_type=2,address=1001,barcode=TAPE04,volume_tag=VOL04
--mode lu --op update --tid 7 --lun 6 --params element_type=3,address=10,barcode=MAIL01
--mode lu --op update --tid 7 --lun 6 --params media_home={DIR}/home
--mode lu --op update --tid 7 --lun 6 --params element_type=2,address=4242,barcode=X
--mode lu --op update --tid 7 --lun 6 --params element_type=9,start_address=1,quantity=1
--mode lu --op update --tid 7 --lun 6 --params element_type=2,start_address=1000,quantity=1
--mode lu --op update --tid 7 --lun 6 --params element_type=2,start_address=2000,quantity=0
--mode lu --op update --tid 7 --lun 6 --params element_type=4,address=500
--mode lu --op update --tid 7 --lun 6 --params element_type=2,address=1001,clear_slot=1
--mode lu --op update --tid 7 --lun 6 --params element_type=2,address=1003,barcode=ABCDEFGHIJKLMNOPQRSTUVWXYZ
--mode lu --op update --tid 7 --lun 6 --params element_type=1,address=1,sides=2
--mode lu --op update --tid 7 --lun 6 --params sides=2
--mode lu --op update --tid 7 --lun 6 --params bogus=1
--mode lu --op update --tid 7 --lun 6 --params dump=1
--mode lu --op update --tid 7 --lun 6 --params vendor_id=STGTVTL,product_id=LIBRARY
--mode lu --op update --tid 7 --lun 6 --params readonly=1
--mode lu --op update --tid 7 --lun 4 --params element_type=2,start_address=1000,quantity=4
--mode lu --op update --tid 7 --lun 1 --params media_home={DIR}/home
--mode lu --op stat --tid 7 --lun 6
--mode target --op show
--mode lu --op delete --tid 7 --lun 5
--mode target --op delete --tid 7
--mode target --op show
# ACLs
--mode target --op bind --tid 1 -I ALL
--mode target --op bind --tid 1 -I 127.0.0.1
--mode target --op bind --tid 1 --initiator-address 10.0.0.0/8
--mode target --op bind --tid 1 -I 127.0.0.1
--mode target --op bind --tid 1 --initiator-name iqn.2024-01.test:init1
--mode target --op bind --tid 1 -Q iqn.2024-01.test:init1
--mode target --op bind --tid 1 -Q iqn.2024-01.test:init2
--mode target --op unbind --tid 1 -I 10.0.0.0/8
--mode target --op unbind --tid 1 -I 10.0.0.0/8
--mode target --op unbind --tid 1 -Q iqn.2024-01.test:nope
--mode target --op unbind --tid 1 -Q iqn.2024-01.test:init2
--mode target --op bind --tid 9 -I ALL
--mode target --op bind --tid 1
--mode target --op bind --tid 2 -I ALL
--mode target --op bind --tid 2 -I ::1
--mode target --op show
# accounts
--mode account --op show
--mode account --op new --user alice --password secret1
--mode account --op new --user bob --password secret2
--mode account --op new --user=carol --password=secret3
--mode account --op new --user alice --password other
--mode account --op bind --tid 1 --user alice
--mode account --op bind --tid 1 --user carol
--mode account --op bind --tid 1 --user alice
--mode account --op bind --tid 1 --user bob --outgoing
--mode account --op bind --tid 1 --user carol -O
--mode account --op bind --tid 1 --user nobody
--mode account --op bind --tid 9 --user alice
--mode account --op bind --user carol
--mode account --op bind --user bob --outgoing
--mode account --op show
--mode sys --op show
--mode target --op show
--mode account --op unbind --tid 1 --user alice
--mode account --op unbind --tid 1 --user alice
--mode account --op unbind --tid 1 --user bob -O
--mode account --op bind --tid 1 --user alice
--mode account --op delete --user carol
--mode account --op delete --user carol
--mode account --op delete --user nobody
--mode account --op show
--mode target --op show
# target parameters
--mode target --op update --tid 1 --name MaxRecvDataSegmentLength --value 65536
--mode target --op update --tid 1 --name HeaderDigest --value CRC32C,None
--mode target --op update --tid 1 --name DataDigest --value CRC32C
--mode target --op update --tid 1 --name InitialR2T --value No
--mode target --op update --tid 1 --name MaxOutstandingR2T --value 4
--mode target --op update --tid 1 --name ImmediateData --value No
--mode target --op update --tid 1 --name FirstBurstLength --value 131072
--mode target --op update --tid 1 --name MaxBurstLength --value 524288
--mode target --op update --tid 1 --name DataPDUInOrder --value Yes
--mode target --op update --tid 1 --name DataSequenceInOrder --value Yes
--mode target --op update --tid 1 --name ErrorRecoveryLevel --value 0
--mode target --op update --tid 1 --name IFMarker --value No
--mode target --op update --tid 1 --name OFMarker --value No
--mode target --op update --tid 1 --name DefaultTime2Wait --value 4
--mode target --op update --tid 1 --name DefaultTime2Retain --value 30
--mode target --op update --tid 1 --name OFMarkInt --value Reject
--mode target --op update --tid 1 --name IFMarkInt --value Reject
--mode target --op update --tid 1 --name MaxConnections --value 1
--mode target --op update --tid 1 --name MaxXmitDataSegmentLength --value 16384
--mode target --op update --tid 1 --name MaxQueueCmd --value 64
--mode target --op update --tid 1 --name nop_interval --value 5
--mode target --op update --tid 1 --name nop_count --value 3
--mode target --op update --tid 1 --name MaxRecvDataSegmentLength --value abc
--mode target --op update --tid 1 --name MaxRecvDataSegmentLength --value 1
--mode target --op update --tid 1 --name HeaderDigest --value bogus
--mode target --op update --tid 1 --name NoSuchKey --value 1
--mode target --op update --tid 9 --name MaxRecvDataSegmentLength --value 65536
--mode target --op update --tid 1 --name state --value offline
--mode target --op show
--mode target --op show --tid 1
--mode target --op update --tid 1 --name state --value bogus
--mode target --op update --tid 1 --name state --value ready
# a live session (libiscsi) on target 2
@session iqn.2024-01.test:t2 1 iqn.2024-01.test:perf
--mode target --op show
--mode conn --op show --tid 2
--mode conn --op show --tid 1
--mode conn --op show --tid 9
--mode session --op show --tid 2 --sid 1 !stgt
--mode target --op delete --tid 2
--mode conn --op delete --tid 2 --sid 99 --cid 0
@endsession
--mode target --op show
--mode conn --op show --tid 2
--mode target --op stat --tid 1
--mode sys --op stat
# offline: new connections are closed at once
@iscsi-ls iqn.2024-01.test:ls
--mode sys --op update --name State -v offline
@iscsi-ls iqn.2024-01.test:ls
--mode sys --op update --name State -v ready
@iscsi-ls iqn.2024-01.test:ls
# lld
--lld iscsi --mode lld --op stop
--mode lld --op show
# shutdown
--mode sys --op delete
--mode target --op delete --tid 1
--mode target --op delete --tid 2
--mode account --op show
--mode target --op show
--mode sys --op delete
@exited
--mode sys --op show
`;

export interface Step {
  /** tgtadm arguments, or null for an action. */
  args: string[] | null;
  action: string | null;
  params: string[];
  /** stgt deliberately differs from tgt here. */
  stgtDiffers: boolean;
  line: string;
}

export function parseScript(text: string, vars: Readonly<Record<string, string>>): Step[] {
  const steps: Step[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const stgtDiffers = line.endsWith(' !stgt');
    if (stgtDiffers) line = line.slice(0, -' !stgt'.length);
    const subst = line.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
    const words = subst.split(' ').filter((w) => w !== '');
    if (words[0]!.startsWith('@')) {
      steps.push({ args: null, action: words[0]!.slice(1), params: words.slice(1), stgtDiffers, line });
    } else {
      steps.push({ args: words, action: null, params: [], stgtDiffers, line });
    }
  }
  return steps;
}
