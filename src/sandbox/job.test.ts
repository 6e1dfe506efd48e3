import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createJobDir, jobScript, removeJobDir, sandboxEnv, sweepStaleJobDirs } from './job.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'job-test-'));
  dirs.push(d);
  return d;
}

describe('sandboxEnv', () => {
  test('passes the listed variables and every SCHEDVM_*, adds SCHEDVM_IN_SANDBOX=1', () => {
    const env = sandboxEnv({ PATH: '/bin', HOME: '/root', CI: 'true', TERM: 'xterm', NODE_OPTIONS: '--x', SCHEDVM_CACHE: '/c', SECRET_TOKEN: 's', TMPDIR: '/t' }, { EXTRA: '1' });
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/root',
      CI: 'true',
      TERM: 'xterm',
      NODE_OPTIONS: '--x',
      SCHEDVM_CACHE: '/c',
      EXTRA: '1',
      SCHEDVM_IN_SANDBOX: '1',
    });
  });
});

describe('jobScript', () => {
  test('reproduces argv, cwd and env exactly when run by sh with an empty environment', () => {
    const cwd = join(scratch(), "dir with 'quotes' and $x");
    mkdirSync(cwd);
    const argv = ['node', '-e', 'console.log(JSON.stringify({ argv: process.argv.slice(1), cwd: process.cwd(), v: process.env.V, n: process.env.NOT_PASSED }))', "it's", '$HOME', 'a\nb', ''];
    const script = jobScript({ argv, cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', V: 'x\'y"z $PATH `id`' } });
    const file = join(scratch(), 'job.sh');
    writeFileSync(file, script);
    const out = JSON.parse(execFileSync('env', ['-i', '/bin/sh', file]).toString()) as Record<string, unknown>;
    expect(out).toEqual({ argv: ["it's", '$HOME', 'a\nb', ''], cwd, v: 'x\'y"z $PATH `id`' });
  });

  test('drops to the caller user through setpriv when one is given', () => {
    const script = jobScript({ argv: ['id'], cwd: '/', env: {}, user: { uid: 1000, gid: 100, groups: [100, 27], setpriv: '/usr/bin/setpriv' } });
    expect(script).toContain("exec '/usr/bin/setpriv' '--reuid=1000' '--regid=100' '--groups=100,27' '--' 'id'");
  });

  test('exits non-zero when the cwd is gone', () => {
    const file = join(scratch(), 'job.sh');
    writeFileSync(file, jobScript({ argv: ['true'], cwd: '/nonexistent/dir', env: {} }));
    expect(() => execFileSync('/bin/sh', [file], { stdio: 'ignore' })).toThrow();
  });
});

describe('job dirs', () => {
  test('are private and hold job.sh and the owner pid; removeJobDir deletes them', () => {
    const dir = createJobDir({ argv: ['true'], cwd: '/', env: {} }, scratch());
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, 'job.sh'), 'utf8')).toContain("exec 'true'");
    expect(Number(readFileSync(join(dir, 'owner.pid'), 'utf8'))).toBe(process.pid);
    removeJobDir(dir);
    expect(existsSync(dir)).toBe(false);
  });

  test('sweepStaleJobDirs removes only dirs whose owner process is gone', () => {
    const root = scratch();
    const mine = createJobDir({ argv: ['true'], cwd: '/', env: {} }, root);
    const stale = createJobDir({ argv: ['true'], cwd: '/', env: {} }, root);
    // A pid that is certainly dead: a child that has exited and been reaped.
    const dead = Number(execFileSync('/bin/sh', ['-c', 'echo $$']).toString());
    writeFileSync(join(stale, 'owner.pid'), `${dead}\n`);
    const foreign = join(root, 'something-else');
    mkdirSync(foreign);
    sweepStaleJobDirs(root);
    expect([existsSync(mine), existsSync(stale), existsSync(foreign)]).toEqual([true, false, true]);
  });
});
