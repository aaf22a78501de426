// Fault injection for the VM harness's negative test: corrupts SCSI Data-In payloads (RFC 7143 11.7)
//
// It follows the iSCSI PDU framing of the target->initiator byte stream (RFC 7143 11.2.1 BHS;
// no digests assumed, so use it only on connections without HeaderDigest/DataDigest) and flips
// one byte in the data segment of every 16th SCSI Data-In PDU (opcode 0x25) that carries at least
// 512 bytes. The initiator then reads wrong data with no transport error, as from a buggy target:
// the kernel-initiator test must notice on its own (checksums, fio verify, e2fsck).

const DATA_IN_OPCODE = 0x25;
const BHS_LENGTH = 48;
const CORRUPT_EVERY = 16;

/** Walks the PDU stream a chunk at a time and corrupts selected Data-In payload bytes in place. */
export class DataInCorrupter {
  private need = BHS_LENGTH;
  private inHeader = true;
  private header = Buffer.alloc(BHS_LENGTH);
  private headerFill = 0;
  private corruptThisPdu = false;
  private segmentOffset = 0;
  private dataInCount = 0;
  corrupted = 0;

  /** Mutates `chunk` (a view of what the target sent) and returns it. */
  process(chunk: Buffer): Buffer {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inHeader) {
        const n = Math.min(this.need, chunk.length - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        this.need -= n;
        pos += n;
        if (this.need === 0) this.startPayload();
      } else {
        const n = Math.min(this.need, chunk.length - pos);
        // Byte 0 of the data segment proper (AHS comes first and is left intact).
        if (this.corruptThisPdu && this.segmentOffset <= 0 && this.segmentOffset + n > 0) {
          const at = pos - this.segmentOffset;
          chunk[at] = chunk[at]! ^ 0xff;
          this.corrupted++;
          this.corruptThisPdu = false;
        }
        this.segmentOffset += n;
        this.need -= n;
        pos += n;
        if (this.need === 0) this.startHeader();
      }
    }
    return chunk;
  }

  private startPayload(): void {
    const h = this.header;
    const opcode = h[0]! & 0x3f; // byte 0: opcode (bits 0-5)
    const totalAhsLength = h[4]! * 4; // byte 4: TotalAHSLength in 4-byte words
    const dataSegmentLength = h.readUIntBE(5, 3); // bytes 5-7: DataSegmentLength
    const padded = (dataSegmentLength + 3) & ~3; // RFC 7143 11.2.1.6: padded to 4 bytes
    this.need = totalAhsLength + padded;
    this.segmentOffset = -totalAhsLength;
    this.corruptThisPdu = false;
    if (opcode === DATA_IN_OPCODE && dataSegmentLength >= 512) {
      this.dataInCount++;
      this.corruptThisPdu = this.dataInCount % CORRUPT_EVERY === 0;
    }
    if (this.need === 0) this.startHeader();
    else this.inHeader = false;
  }

  private startHeader(): void {
    this.inHeader = true;
    this.need = BHS_LENGTH;
    this.headerFill = 0;
  }
}
