// RFC 7143 6 / 11.10: factories for the per-connection login and text engines (the connection base imports these).

import { LoginEngine, type LoginHost, type LoginConnInfo } from './login.js';
import { TextEngine, type TextSessionInfo } from './text.js';

export { LoginEngine, TextEngine };

export function createLoginEngine(host: LoginHost, conn: LoginConnInfo): LoginEngine {
  return new LoginEngine(host, conn);
}

export function createTextEngine(host: LoginHost, info: TextSessionInfo): TextEngine {
  return new TextEngine(host, info);
}
