/**
 * The run dir holds agent.sock, agent.lock and agent.token. It must be on a
 * node-local disk (a socket on NFS is visible everywhere but connects only on
 * the node that made it), short (socket paths over ~107 bytes fail), and ours
 * alone: /tmp can be squatted, so we create it exclusively and refuse it
 * unless it is a real directory, owned by us, mode 0700.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { defaultRunDir as runDirFor, ProtocolError, runPaths, type RunPaths } from '../protocol/index.js';

export { runPaths, type RunPaths };

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** $CLUSTRIX_RUN_DIR, else $XDG_RUNTIME_DIR/clustrix when that is ours, else /tmp/clustrix-<uid> (protocol/run-dir.ts). */
export function defaultRunDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  return runDirFor(env, uid, (dir) => {
    try {
      const st = lstatSync(dir);
      return st.isDirectory() && st.uid === uid;
    } catch {
      return false; // not usable: /tmp it is
    }
  });
}

/** Create (if needed) and verify the run dir. Throws a ProtocolError that says what to do. */
export function ensureRunDir(dir: string, uid = process.getuid?.() ?? 0): RunPaths {
  const paths = runPaths(dir);
  if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH_BYTES) {
    throw new ProtocolError(
      'EINVAL',
      `run dir ${dir} is too long: the socket path would be ${Buffer.byteLength(paths.socket)} bytes (max ${MAX_SOCKET_PATH_BYTES}); choose a shorter --run-dir`,
    );
  }
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new ProtocolError('EACCES', `run dir ${dir} is not a directory (a symlink or file is in the way); remove it or choose another --run-dir`);
  }
  if (st.uid !== uid) {
    throw new ProtocolError('EACCES', `run dir ${dir} belongs to uid ${st.uid}, not to us (uid ${uid}); someone else created it — choose another --run-dir`);
  }
  if ((st.mode & 0o777) !== 0o700) {
    throw new ProtocolError('EACCES', `run dir ${dir} has mode ${(st.mode & 0o777).toString(8)}, expected 700; fix it with chmod 700 or remove it`);
  }
  return paths;
}
