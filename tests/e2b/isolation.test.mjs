// Two sandboxes of one server: each sees only its own files, processes and state; tokens are per sandbox.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '@e2b/code-interpreter';
import { Served, raw } from './helpers.mjs';

const served = new Served('isolation');
let a;
let b;
before(async () => {
  await served.start();
  [a, b] = await Promise.all([Sandbox.create(), Sandbox.create()]);
});
after(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  await served.cleanup();
});

describe('isolation', () => {
  test('files, variables and processes stay in their sandbox', async () => {
    await a.files.write('/home/user/mine.txt', 'a only');
    await a.runCode('only_in_a = 1');
    const bg = await a.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    assert.equal(await b.files.exists('/home/user/mine.txt'), false);
    assert.equal((await b.runCode('only_in_a')).error.name, 'NameError');
    assert.ok(!(await b.commands.list()).some((p) => p.pid === bg.pid));
    assert.equal((await b.commands.run('ls /home/user')).stdout, '');
    await bg.kill();
  });

  test('a sandbox request must carry that sandbox\'s own token', async () => {
    const routed = (sbx, extra = {}) => ({ 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983', 'Content-Type': 'application/json', ...extra });
    const listDir = (headers) => raw(served, '/filesystem.Filesystem/ListDir', { method: 'POST', headers, body: '{"path":"/home/user"}' });
    assert.equal((await listDir(routed(a))).status, 401, 'no token');
    assert.equal((await listDir(routed(a, { 'X-Access-Token': b.envdAccessToken }))).status, 401, "another sandbox's token");
    const ok = await listDir(routed(a, { 'X-Access-Token': a.envdAccessToken }));
    assert.equal(ok.status, 200);
    const contexts = await raw(served, '/contexts', { headers: { 'E2b-Sandbox-Id': a.sandboxId, 'E2b-Sandbox-Port': '49999' } });
    assert.equal(contexts.status, 403);
    assert.match(contexts.json.message, /traffic access token/);
  });

  test('an unknown sandbox answers 502, which the SDK reads as not running', async () => {
    const res = await raw(served, '/health', { headers: { 'E2b-Sandbox-Id': 'nosuchsandbox0000000', 'E2b-Sandbox-Port': '49983' } });
    assert.equal(res.status, 502);
    assert.equal(res.json.message, 'The sandbox was not found');
  });
});
