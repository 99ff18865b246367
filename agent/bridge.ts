/**
 * `agent.mjs bridge`: relay stdin/stdout ↔ the agent's Unix socket. The SSH
 * fallback when the server refuses stream-local forwarding: the client opens
 * an exec channel running this, and speaks the same bytes through it.
 */
import { connect } from 'node:net';

export function bridge(socketPath: string): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    let code = 0;
    sock.once('error', (err) => {
      process.stderr.write(`clustrix bridge: cannot reach the agent at ${socketPath}: ${err.message}\n`);
      code = 1;
      resolve(code);
    });
    sock.once('connect', () => {
      process.stdin.pipe(sock);
      sock.pipe(process.stdout);
      process.stdin.once('end', () => sock.end());
      sock.once('close', () => resolve(code));
    });
  });
}
