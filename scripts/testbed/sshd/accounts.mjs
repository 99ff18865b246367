// Accounts the sshd testbed logs in as, and what lives in their homes:
// authorized_keys and a deliberately noisy login environment.
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo as osUserInfo } from 'node:os';
import { join } from 'node:path';
import { TEST_USERS, ensureUser, isRoot, run, tryRun, userInfo, which } from '../common.mjs';

/** First line every noisy login prints on stdout; tests can look for it. */
export const LOGIN_NOISE = 'Welcome to the testbed cluster';

/**
 * Decide who the sshd instances serve.
 * Root: creates clxtest (bash), clxtcsh (tcsh) and clxother (bash).
 * Not root: sshd can only authenticate the user it runs as, so every role is
 * the current user and `other` is null (the cross-user test must skip).
 *
 * @param {string} sshdDir where non-root mode keeps authorized_keys
 */
export function prepareAccounts(sshdDir) {
  if (!isRoot()) {
    const me = osUserInfo();
    return {
      root: false,
      users: { main: me.username, tcsh: me.username, other: null },
      infos: [{ name: me.username, uid: me.uid, gid: me.gid, home: me.homedir, shell: me.shell }],
      // Never touch a developer's real ~/.ssh: keys go to a testbed file, and
      // StrictModes is off because the path's parents (e.g. /work) may belong to
      // someone else.
      authorizedKeysFile: join(sshdDir, 'authorized_keys'),
      strictModes: false,
    };
  }
  const tcsh = which('tcsh');
  if (!tcsh) throw new Error('tcsh is installed but not on PATH');
  ensureUser(TEST_USERS.main, '/bin/bash');
  ensureUser(TEST_USERS.tcsh, tcsh);
  ensureUser(TEST_USERS.other, '/bin/bash');
  const names = [TEST_USERS.main, TEST_USERS.tcsh, TEST_USERS.other];
  names.forEach(allowPubkeyLogin);
  return {
    root: true,
    users: { ...TEST_USERS },
    infos: names.map((n) => userInfo(n)),
    authorizedKeysFile: '.ssh/authorized_keys',
    strictModes: true,
  };
}

/**
 * useradd leaves the password field as "!" (locked). With `UsePAM no`, sshd
 * treats a "!"-prefixed password as a locked account and refuses even public
 * key logins. "*" means "no password can match" without counting as locked.
 */
function allowPubkeyLogin(name) {
  const hash = tryRun('getent', ['shadow', name]).stdout.split(':')[1] ?? '';
  if (hash.startsWith('!')) run('usermod', ['-p', '*', name]);
}

/**
 * Put this testbed's keys into `~/.ssh/authorized_keys` of one account (owned
 * by it, 0700/0600 as StrictModes wants). Lines are tagged with the testbed
 * dir: lines of this testbed are replaced, other testbeds' kept (two checkouts
 * on one machine must not lock each other out), and lines of testbeds whose
 * dir is gone are dropped, so the file does not grow run after run.
 *
 * @param {string} tag the testbed dir that owns these keys
 */
export function installAuthorizedKeys(info, pubKeys, tag) {
  const sshDir = join(info.home, '.ssh');
  mkdirSync(sshDir, { recursive: true });
  chmodSync(sshDir, 0o700);
  chownSync(sshDir, info.uid, info.gid);
  const file = join(sshDir, 'authorized_keys');
  const mark = ' clustrix-testbed:';
  let kept = [];
  try {
    kept = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => {
        if (!l.trim()) return false;
        const at = l.indexOf(mark);
        // Untagged: not ours (leave it), unless written by an older testbed (its key comments).
        if (at < 0) return !/ clustrix-testbed-client(-encrypted)?$/.test(l.trim());
        const owner = l.slice(at + mark.length).trim();
        return owner !== tag && existsSync(owner);
      });
  } catch {
    /* no file yet */
  }
  const ours = pubKeys.map((k) => `${k.trim().split(/\s+/).slice(0, 2).join(' ')}${mark}${tag}`);
  writeOwned(info, file, [...kept, ...ours].join('\n') + '\n', 0o600);
}

/** Non-root mode: one testbed-owned authorized_keys file for the current user. */
export function writeTestbedAuthorizedKeys(path, pubKeys) {
  writeFileSync(path, pubKeys.join('\n') + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
}

const header = `# Written by the clustrix testbed (scripts/testbed/sshd): deliberately noisy,
# like many HPC login nodes. The client must skip all of this output.
`;

/** Startup files that print banners and fake `module` chatter on stdout (and a bit on stderr). */
const BASH_FILES = {
  // bash reads .bashrc even for `ssh host cmd` (Debian builds bash with
  // SSH_SOURCE_BASHRC), so this is the noise every exec channel sees.
  '.bashrc': `${header}echo "${LOGIN_NOISE} (bashrc)"
echo "Lmod: the following modules were loaded: gcc/12.2 openmpi/4.1"
echo "module: warning: default python is deprecated" >&2
`,
  // Login shells read .bash_profile and nothing else, so it chains .bashrc.
  '.bash_profile': `${header}echo "${LOGIN_NOISE} (bash_profile)"
echo "Your project quota: 87% used"
[ -f ~/.bashrc ] && . ~/.bashrc
`,
  '.profile': `${header}echo "${LOGIN_NOISE} (profile)"
`,
};

const TCSH_FILES = {
  // tcsh reads .cshrc for every shell, including `tcsh -c cmd`.
  '.cshrc': `${header}echo "${LOGIN_NOISE} (cshrc)"
echo "Lmod: the following modules were loaded: gcc/12.2"
`,
  '.login': `${header}echo "${LOGIN_NOISE} (login)"
`,
};

/** Root mode only: give clxtest and clxtcsh their noisy dotfiles (rewritten on every up). */
export function writeNoisyDotfiles(infos) {
  const byName = new Map(infos.map((i) => [i.name, i]));
  const plan = [
    [byName.get(TEST_USERS.main), BASH_FILES],
    [byName.get(TEST_USERS.tcsh), TCSH_FILES],
  ];
  for (const [info, files] of plan) {
    if (!info) continue;
    for (const [file, text] of Object.entries(files)) writeOwned(info, join(info.home, file), text, 0o644);
  }
}

function writeOwned(info, path, text, mode) {
  writeFileSync(path, text, { mode });
  chmodSync(path, mode); // writeFileSync's mode only applies when it creates the file
  chownSync(path, info.uid, info.gid);
}
