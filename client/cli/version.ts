/** `clustrix --version`: what a bug report needs to name this install. */
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { agentBundle } from '../agent-bundle.js';

/** package.json's version, put here by scripts/build.mjs (absent when run from source). */
declare const __CLX_VERSION__: string | undefined;

export function versionText(): string {
  const version = typeof __CLX_VERSION__ === 'string' ? __CLX_VERSION__ : 'dev';
  let build: string;
  try {
    build = agentBundle().build;
  } catch {
    build = 'missing (run npm run build)';
  }
  return `clustrix ${version} (protocol ${PROTOCOL_VERSION}, agent build ${build}, node ${process.version})`;
}
