/** The method table: every method either side knows, by name. */
import type { Method } from '../method.js';
import * as agent from './agent.js';
import * as fs from './fs.js';
import * as fsBatch from './fs-batch.js';
import * as jobs from './jobs.js';
import * as storage from './storage.js';
import * as envs from './envs.js';
import * as functions from './functions.js';

export * from './agent.js';
export * from './fs.js';
export * from './fs-batch.js';
export * from './jobs.js';
export * from './storage.js';
export * from './envs.js';
export * from './functions.js';

export const METHODS: ReadonlyMap<string, Method> = new Map(
  (
    [
      ...Object.values(agent),
      ...Object.values(fs),
      ...Object.values(fsBatch),
      ...Object.values(jobs),
      ...Object.values(storage),
      ...Object.values(envs),
      ...Object.values(functions),
    ] as unknown[]
  )
    .filter((m): m is Method => typeof m === 'object' && m !== null && 'kind' in m && 'name' in m)
    .map((m) => [m.name, m]),
);
