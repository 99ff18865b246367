/**
 * clustrix client library.
 *
 *   import { connect } from 'clustrix';
 *   const cluster = await connect('local');            // or an ssh alias / user@host:port
 *   const entries = await cluster.fs.ls('~/data');
 *   for await (const e of cluster.fs.find('~/data', { name: '*.h5' })) console.log(e.path);
 *   await cluster.close();
 */
import { Cluster } from './cluster.js';
import { ConnectionError } from './errors.js';
import { openLocal, type LocalOptions } from './local.js';

export type ConnectOptions = LocalOptions;

/** Connect to a target: 'local' (the embedded default) or, with the SSH layer, a host. */
export async function connect(target = 'local', opts: ConnectOptions = {}): Promise<Cluster> {
  if (target === 'local') {
    const { conn } = await openLocal(opts);
    return new Cluster('local', conn);
  }
  throw new ConnectionError('tunnel', `cannot connect to "${target}": SSH targets are not available in this build yet; use 'local'`);
}

export { Cluster } from './cluster.js';
export { Connection, type CallOptions, type RemoteStream } from './connection.js';
export { ClustrixError, ConnectionError, RemoteError, type ConnectionErrorKind } from './errors.js';
export type { EntryStream, FindOptions, GlobOptions, CountOptions } from './fs.js';
export type { AgentInfo, CountResult, DirEntry, DuResult, ErrorCode, FileInfo, FileType, FindEntry, WalkSummary, WalkProgress } from '../protocol/index.js';
