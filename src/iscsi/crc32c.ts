// The iSCSI digests' CRC32C (RFC 7143 12.1): the code is src/native/crc32c.ts, shared with tgt's
// tape format (scsi/ssc-format.ts); re-exported here for the iSCSI layer and its drivers.
export * from '../native/crc32c.js';
