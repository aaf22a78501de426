// Command handler type: the function a command table row runs to execute its command (SPC-4 / SBC-4).
import type { Cmd } from './command.js';

export type Handler = (c: Cmd) => void;
