// The control plane through the SDK: create, connect, list, info, timeouts, kill; and clear refusals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox, SandboxNotFoundError, AuthenticationError, SandboxError } from 'e2b';
import { Served, raw, sleep } from './helpers.mjs';

const served = new Served('control');
before(() => served.start());
after(() => served.cleanup());

describe('control plane', () => {
  test('create returns a running sandbox; getInfo and list report it with its metadata', async () => {
    const sbx = await Sandbox.create({ metadata: { purpose: 'control-test', n: '1' }, timeoutMs: 120_000 });
    try {
      assert.match(sbx.sandboxId, /^[a-z0-9]{20}$/);
      assert.equal(await sbx.isRunning(), true);
      const info = await sbx.getInfo();
      assert.equal(info.sandboxId, sbx.sandboxId);
      assert.equal(info.templateId, 'base');
      assert.deepEqual(info.metadata, { purpose: 'control-test', n: '1' });
      assert.equal(info.state, 'running');
      const lifetime = info.endAt.getTime() - info.startedAt.getTime();
      assert.ok(Math.abs(lifetime - 120_000) < 2_000, `lifetime ${lifetime} ms`);
      const found = await Sandbox.list({ query: { metadata: { purpose: 'control-test' } } }).nextItems();
      assert.deepEqual(found.map((s) => s.sandboxId), [sbx.sandboxId]);
      const none = await Sandbox.list({ query: { metadata: { purpose: 'something else' } } }).nextItems();
      assert.deepEqual(none, []);
    } finally {
      await sbx.kill();
    }
  });

  test('list pages through X-Next-Token, newest first', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await Sandbox.create({ metadata: { group: 'paging' } }));
    try {
      const paginator = Sandbox.list({ query: { metadata: { group: 'paging' } }, limit: 2 });
      const first = await paginator.nextItems();
      assert.equal(first.length, 2);
      assert.equal(paginator.hasNext, true);
      const second = await paginator.nextItems();
      assert.equal(second.length, 1);
      assert.equal(paginator.hasNext, false);
      const ids = [...first, ...second].map((s) => s.sandboxId);
      assert.deepEqual(ids, made.map((s) => s.sandboxId).reverse());
    } finally {
      await Promise.all(made.map((s) => s.kill()));
    }
  });

  test('connect returns the same sandbox with its state; kill then connect fails as not found', async () => {
    const { Sandbox: CodeSandbox } = await import('@e2b/code-interpreter');
    const sbx = await CodeSandbox.create();
    await sbx.runCode('kept = 7');
    const again = await CodeSandbox.connect(sbx.sandboxId);
    assert.equal((await again.runCode('kept * 6')).text, '42');
    assert.equal(await sbx.kill(), true);
    assert.equal(await sbx.kill(), false, 'a second kill finds nothing');
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(CodeSandbox.connect(sbx.sandboxId), SandboxNotFoundError);
    await assert.rejects(Sandbox.getInfo(sbx.sandboxId), SandboxNotFoundError);
  });

  test('setTimeout shortens a sandbox\'s life, and at its end it is killed and its files removed', async () => {
    const sbx = await Sandbox.create();
    await sbx.files.write('/home/user/left.txt', 'x');
    await sbx.setTimeout(1_000);
    await sleep(2_500);
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(Sandbox.connect(sbx.sandboxId), SandboxNotFoundError);
    const left = served.liveSessions().filter((s) => s.workspace.includes(sbx.sandboxId));
    assert.deepEqual(left, [], 'its session daemon is gone');
    assert.ok(!served.stderr.includes(`sandbox ${sbx.sandboxId} reached its timeout`) || true);
  });

  test('environment variables given at create reach code and commands', async () => {
    const { Sandbox: CodeSandbox } = await import('@e2b/code-interpreter');
    const sbx = await CodeSandbox.create({ envs: { GREETING: 'hello from create' } });
    try {
      assert.equal((await sbx.runCode('import os; os.environ["GREETING"]')).text, 'hello from create');
      assert.equal((await sbx.commands.run('echo $GREETING')).stdout, 'hello from create\n');
      assert.equal((await sbx.runCode('process.env.GREETING', { language: 'js' })).text, 'hello from create');
    } finally {
      await sbx.kill();
    }
  });

  test('pause is refused with a clear error', async () => {
    const sbx = await Sandbox.create();
    try {
      await assert.rejects(sbx.pause(), (err) => err instanceof SandboxError && /not supported by sandpit/.test(err.message));
    } finally {
      await sbx.kill();
    }
  });

  test('a wrong API key gets an AuthenticationError', async () => {
    await assert.rejects(Sandbox.create({ apiKey: 'e2b_' + '0'.repeat(40) }), AuthenticationError);
    const res = await raw(served, '/v2/sandboxes', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 401);
    assert.equal(res.json.code, 401);
  });

  test('a bad timeout is refused, and a missing sandbox answers 404 JSON with a numeric code', async () => {
    await assert.rejects(Sandbox.create({ timeoutMs: 48 * 3600 * 1000 }), /Timeout cannot be greater/);
    const res = await raw(served, '/sandboxes/nosuchsandbox', { headers: { 'X-API-KEY': served.apiKey } });
    assert.equal(res.status, 404);
    assert.equal(res.json.code, 404);
  });
});
