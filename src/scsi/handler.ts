// Command handler table type: one function per opcode (or opcode + service action), SPC-4 / SBC-4.
import type { Cmd } from './command.js';

export type Handler = (c: Cmd) => void;
export type HandlerTable = Map<number, Handler>;

/** Key of a handler: the opcode, or opcode << 8 | service action for service-action opcodes. */
export function handlerKey(opcode: number, sa = -1): number {
  return sa >= 0 ? (opcode << 8) | sa : opcode;
}
