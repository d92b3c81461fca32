import net from 'node:net';

export interface OfferedBody {
  /** the response's status, or null when the connection closed (or reset) before a response head arrived */
  status: number | null;
  head: string;
  /** body bytes this client handed to the kernel before the server answered or closed */
  sent: number;
}

/**
 * POST a body of `declared` bytes (or chunked) on a raw socket, writing up to `send` bytes until the
 * server answers or closes, reading nothing but the response head: what a sender of a huge body
 * gets, and how much of it got out before the server refused it.
 */
export function offerBody(port: number, path: string, headers: Record<string, string>, declared: number | 'chunked', send: number): Promise<OfferedBody> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let sent = 0;
    let response = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
      resolve({ status: status ? Number(status) : null, head: response.split('\r\n\r\n')[0]!, sent });
    };
    socket.on('data', (d: Buffer) => {
      response += d.toString('latin1');
      if (response.includes('\r\n\r\n')) finish();
    });
    socket.on('close', finish);
    // a reset while still writing is one of the answers this measures
    socket.on('error', finish);
    socket.on('connect', () => {
      const lines = [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      lines.push(declared === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${declared}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const framed = declared === 'chunked' ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk;
      const pump = () => {
        while (!done && sent < send) {
          sent += chunk.length;
          if (!socket.write(framed)) return socket.once('drain', pump);
        }
      };
      pump();
    });
  });
}
