// `host:port` listen addresses; IPv6 hosts in brackets (`[::]:8080`). Port 0 asks the OS for one.

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export const LISTEN = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/;

export function parseListen(text: string): ListenAddress | undefined {
  const m = LISTEN.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}
