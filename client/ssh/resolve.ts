/**
 * Turn a target (`alias`, `user@host:port`…) plus ssh_config into everything
 * needed to connect: address, user, identities, known_hosts files, host key
 * policy, keepalive, and the ProxyJump chain (each hop resolved the same way).
 */
import { homedir, hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { evaluateConfig, readConfigFiles, safeLocalUser } from './config.js';
import { expandTokens, parseTargetSpec, type TokenContext } from './target.js';

export type StrictHostKeyChecking = 'yes' | 'ask' | 'accept-new' | 'no';

export interface ResolvedHost {
  /** The host part as typed (alias). */
  alias: string;
  hostname: string;
  port: number;
  user: string;
  /** Private key files to try, in order (they may not exist). */
  identityFiles: string[];
  /** Offer only `identityFiles` (agent keys too, but only those matching them). */
  identitiesOnly: boolean;
  /** ssh-agent socket; null = do not use an agent. */
  identityAgent: string | null;
  /** Hops to go through, first one connected directly. Empty = direct. */
  jumps: ResolvedHost[];
  /** ProxyCommand (tokens expanded), when set and no ProxyJump. */
  proxyCommand: string | null;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  hashKnownHosts: boolean;
  hostKeyAlias: string | undefined;
  connectTimeoutMs: number | undefined;
  serverAliveIntervalMs: number | undefined;
  serverAliveCountMax: number | undefined;
  /** BatchMode: never prompt (passphrases, keyboard-interactive, passwords). */
  batchMode: boolean;
  preferredAuthentications: string[] | undefined;
  kbdInteractiveAuthentication: boolean;
  passwordAuthentication: boolean;
}

export const DEFAULT_IDENTITY_FILES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_dsa'];

/** $CLUSTRIX_SSH_CONFIG (colon-separated, like `ssh -F`), else user then system config, as OpenSSH reads them. */
export function defaultConfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.CLUSTRIX_SSH_CONFIG) return env.CLUSTRIX_SSH_CONFIG.split(':').filter(Boolean);
  return [join(homedir(), '.ssh', 'config'), '/etc/ssh/ssh_config'];
}

function yes(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  return /^(yes|true)$/i.test(v);
}

function seconds(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return Number(v) * 1000;
}

function strict(v: string | undefined): StrictHostKeyChecking {
  const s = (v ?? 'ask').toLowerCase();
  if (s === 'no' || s === 'off' || s === 'false') return 'no';
  if (s === 'accept-new') return 'accept-new';
  if (s === 'yes' || s === 'true') return 'yes';
  return 'ask';
}

/** Resolve one target against already-read config texts (pure apart from os.userInfo/homedir). */
export function resolveWithTexts(target: string, texts: readonly string[], depth = 0, ignoreOwnJump = false): ResolvedHost {
  if (depth > 8) throw new Error(`ProxyJump chain for "${target}" is deeper than 8 hops (a loop in ~/.ssh/config?)`);
  const spec = parseTargetSpec(target);
  const v = evaluateConfig(texts, spec.host, spec.user);
  const one = (k: string) => v.get(k)?.[0];
  const localUser = safeLocalUser();
  const home = homedir();
  const port = spec.port ?? (one('port') && /^\d+$/.test(one('port')!) ? Number(one('port')) : 22);
  const user = spec.user ?? one('user') ?? localUser;
  const tokBase: TokenContext = { h: spec.host, n: spec.host, p: port, r: user, u: localUser, d: home, i: userInfo().uid, l: hostname().split('.')[0]! };
  const host = expandTokens(one('hostname') ?? spec.host, tokBase);
  const tok: TokenContext = { ...tokBase, h: host };
  // Deduplicated as OpenSSH does (a `Match final` second pass repeats IdentityFile lines).
  const files = (k: string, dflt: string[]) => [
    ...new Set((v.get(k) ?? dflt).filter((f) => f.toLowerCase() !== 'none').map((f) => expandTokens(f.replace(/^"|"$/g, ''), tok))),
  ];

  const agentSetting = one('identityagent');
  let identityAgent: string | null = process.env.SSH_AUTH_SOCK || null;
  if (agentSetting && agentSetting.toLowerCase() === 'none') identityAgent = null;
  else if (agentSetting && agentSetting !== 'SSH_AUTH_SOCK') {
    identityAgent = agentSetting.startsWith('$') ? process.env[agentSetting.slice(1).replace(/[{}]/g, '')] || null : expandTokens(agentSetting, tok);
  }

  const jumpSetting = ignoreOwnJump ? undefined : one('proxyjump');
  const jumps: ResolvedHost[] = [];
  if (jumpSetting && jumpSetting.toLowerCase() !== 'none') {
    // `ProxyJump a,b`: a is reached with its own config (even its own ProxyJump);
    // b is reached through a, so b's own ProxyJump does not apply (as `ssh -J a,b`).
    jumpSetting.split(',').forEach((hop, i) => {
      const r = resolveWithTexts(hop.trim(), texts, depth + 1, i > 0);
      if (i === 0) jumps.push(...r.jumps);
      jumps.push({ ...r, jumps: [] });
    });
  }
  const proxyCommandRaw = v.get('proxycommand')?.[0];
  const proxyCommand = jumps.length === 0 && proxyCommandRaw && proxyCommandRaw.toLowerCase() !== 'none' ? expandTokens(proxyCommandRaw, tok) : null;

  const ids = v.get('identityfile');
  return {
    alias: spec.host,
    hostname: host,
    port,
    user,
    identityFiles: ids ? files('identityfile', []) : DEFAULT_IDENTITY_FILES.map((f) => join(home, '.ssh', f)),
    identitiesOnly: yes(one('identitiesonly'), false),
    identityAgent,
    jumps,
    proxyCommand,
    userKnownHostsFiles: files('userknownhostsfile', [join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2')]),
    globalKnownHostsFiles: files('globalknownhostsfile', ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']),
    strictHostKeyChecking: strict(one('stricthostkeychecking')),
    hashKnownHosts: yes(one('hashknownhosts'), false),
    hostKeyAlias: one('hostkeyalias'),
    connectTimeoutMs: seconds(one('connecttimeout')),
    serverAliveIntervalMs: seconds(one('serveraliveinterval')),
    serverAliveCountMax: one('serveralivecountmax') ? Number(one('serveralivecountmax')) : undefined,
    batchMode: yes(one('batchmode'), false),
    preferredAuthentications: one('preferredauthentications')?.split(','),
    kbdInteractiveAuthentication: yes(one('kbdinteractiveauthentication') ?? one('challengeresponseauthentication'), true),
    passwordAuthentication: yes(one('passwordauthentication'), true),
  };
}

/** Resolve `target` reading the given ssh_config files (default: ~/.ssh/config, /etc/ssh/ssh_config). */
export function resolveHost(target: string, configFiles: readonly string[] = defaultConfigFiles()): ResolvedHost {
  return resolveWithTexts(target, readConfigFiles(configFiles));
}

/** `user@host:port` for messages. */
export function describeHost(h: Pick<ResolvedHost, 'user' | 'hostname' | 'port'>): string {
  return `${h.user}@${h.hostname.includes(':') ? `[${h.hostname}]` : h.hostname}:${h.port}`;
}
