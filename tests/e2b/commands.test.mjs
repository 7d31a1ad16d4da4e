// Commands through the SDK: output, exit codes, cwd and envs, stdin, background processes, kill, list, connect.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox, CommandExitError, TimeoutError } from 'e2b';
import { Served, sleep } from './helpers.mjs';

const served = new Served('commands');
let sbx;
before(async () => {
  await served.start();
  sbx = await Sandbox.create();
});
after(async () => {
  await sbx?.kill();
  await served.cleanup();
});

describe('commands', () => {
  test('stdout, stderr and the exit code; bash -l -c in /home/user as user', async () => {
    const r = await sbx.commands.run('echo out; echo err >&2; pwd; whoami');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'out\n/home/user\nuser\n');
    assert.equal(r.stderr, 'err\n');
  });

  test('a non-zero exit throws CommandExitError with what it printed', async () => {
    await assert.rejects(sbx.commands.run('echo failing >&2; exit 3'), (err) => {
      assert.ok(err instanceof CommandExitError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.stderr, 'failing\n');
      assert.equal(err.error, 'exit status 3');
      return true;
    });
  });

  test('cwd and envs per command; output streams through the callbacks', async () => {
    const lines = [];
    const r = await sbx.commands.run('echo $WHO; pwd; for i in 1 2 3; do echo $i; sleep 0.1; done', {
      cwd: '/tmp',
      envs: { WHO: 'me' },
      onStdout: (d) => lines.push(d),
    });
    assert.equal(r.stdout, 'me\n/tmp\n1\n2\n3\n');
    assert.ok(lines.length >= 2, 'more than one chunk arrived');
    await assert.rejects(sbx.commands.run('true', { cwd: '/no/such/dir' }), /does not exist/);
  });

  test('stdin: sendStdin and closeStdin', async () => {
    const handle = await sbx.commands.run('cat', { background: true, stdin: true });
    await handle.sendStdin('line one\n');
    await handle.sendStdin('line two\n');
    await handle.closeStdin();
    const r = await handle.wait();
    assert.equal(r.stdout, 'line one\nline two\n');
  });

  test('a background command lives on, is listed, can be connected to, and is killed', async () => {
    const handle = await sbx.commands.run('while true; do echo tick; sleep 0.2; done', { background: true, timeoutMs: 0 });
    await sleep(500);
    const listed = await sbx.commands.list();
    const mine = listed.find((p) => p.pid === handle.pid);
    assert.ok(mine, JSON.stringify(listed));
    assert.deepEqual(mine.args.slice(0, 2), ['-l', '-c']);
    await handle.disconnect();
    const again = await sbx.commands.connect(handle.pid);
    const seen = [];
    const reattached = await sbx.commands.connect(handle.pid, { onStdout: (d) => seen.push(d) });
    await sleep(600);
    assert.ok(seen.join('').includes('tick'), 'output after connecting');
    assert.equal(await sbx.commands.kill(handle.pid), true);
    await assert.rejects(reattached.wait(), CommandExitError);
    await again.disconnect();
    assert.equal(await sbx.commands.kill(handle.pid), false, 'it is gone');
    assert.ok(!(await sbx.commands.list()).some((p) => p.pid === handle.pid));
  });

  test('the command\'s timeoutMs kills it', async () => {
    const started = Date.now();
    await assert.rejects(sbx.commands.run('sleep 30', { timeoutMs: 1_000 }), TimeoutError);
    assert.ok(Date.now() - started < 10_000);
    await sleep(300);
    assert.ok(!(await sbx.commands.run('ps -eo args')).stdout.includes('sleep 30'), 'the command was killed');
  });

  test('every command is audited with the SDK as client', async () => {
    await sbx.commands.run('echo audited-marker');
    const record = served.auditRecords().reverse().find((r) => r.command === 'serve' && r.process && r.exit_code === 0);
    assert.ok(record, 'a process record');
    assert.equal(record.language, 'bash');
    assert.match(record.client, /e2b-js-sdk/);
  });
});
