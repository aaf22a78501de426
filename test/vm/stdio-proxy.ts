// Per-connection TCP relay that QEMU's slirp `guestfwd=...-cmd:` spawns (QEMU docs, -netdev user)
//
// slirp runs the `cmd:` program once per guest connection with the guest's socket as fd 0 and 1
// (and 2), so this process must never write to stderr: anything written there would reach the
// initiator as if the target had sent it. It connects to <host>:<port> on the host and copies
// bytes both ways, half-closing each direction as the other side does.
//
// Usage: node stdio-proxy.js <host> <port> [corrupt-data-in]
//   corrupt-data-in: see data-in-corrupter.ts (the harness's own negative test).
import net from 'node:net';
import { DataInCorrupter } from './data-in-corrupter.js';

function main(argv: string[]): void {
  const [host, portText, mode] = argv;
  const port = Number(portText);
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) process.exit(2);
  const corrupter = mode === 'corrupt-data-in' ? new DataInCorrupter() : undefined;
  const guest = new net.Socket({ fd: 0, readable: true, writable: true, allowHalfOpen: true });
  const target = net.connect({ host, port, allowHalfOpen: true });
  const finish = (): void => {
    guest.destroy();
    target.destroy();
  };
  guest.on('error', finish);
  target.on('error', finish);
  guest.on('data', (b: Buffer) => {
    if (!target.write(b)) guest.pause();
  });
  target.on('drain', () => guest.resume());
  target.on('data', (b: Buffer) => {
    if (!guest.write(corrupter ? corrupter.process(b) : b)) target.pause();
  });
  guest.on('drain', () => target.resume());
  guest.on('end', () => target.end());
  target.on('end', () => guest.end());
  guest.on('close', finish);
  target.on('close', finish);
}

main(process.argv.slice(2));
