// The assertions every SDK client must see hold, whatever protocol era it speaks.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { GOLDEN_TOOLS, PLOT, pngSize, textOf } from './helpers.mjs';

// `connect()` returns {client, close()}; `call(client, name, args, options)` calls a tool with
// this SDK's signature; `sandbox` is the Sandbox the server runs in; `clientName` what the audit log must show.
export function conformance({ connect, call, sandbox, clientName, ping }) {
  let client;
  let close;

  test('connects', async () => {
    ({ client, close } = await connect());
  });

  test('tools/list matches the golden file', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools, GOLDEN_TOOLS);
  });

  test('print(6*7) gives 42', async () => {
    const result = await call(client, 'run_code', { code: 'print(6*7)' });
    assert.equal(result.isError, false);
    assert.match(textOf(result), /^\[exit 0 · \d+ ms · session default #\d+\]\n42\n/);
  });

  test('state persists across two calls', async () => {
    await call(client, 'run_code', { code: 'counter = 41' });
    const result = await call(client, 'run_code', { code: 'counter + 1' });
    assert.match(textOf(result), /\[result\]\n42\n/);
    const js = await call(client, 'run_code', { code: 'let n = 20', language: 'javascript' });
    assert.equal(js.isError, false);
    assert.match(textOf(await call(client, 'run_code', { code: 'n * 2 + 2', language: 'javascript' })), /\[result\]\n42\n/);
    // TypeScript runs in the same Node.js session: it sees the JavaScript's n.
    const ts = await call(client, 'run_code', { code: 'const m: number = n + 22; m satisfies number', language: 'typescript' });
    assert.match(textOf(ts), /\[result\]\n42\n/);
  });

  test('a failing run is a result with isError, with the error and its traceback', async () => {
    const result = await call(client, 'run_code', { code: 'def f():\n    return 1 / 0\nf()' });
    assert.equal(result.isError, true);
    const text = textOf(result);
    assert.match(text, /^\[exit 1 ·/);
    assert.match(text, /ZeroDivisionError: division by zero/);
    assert.match(text, /line 2, in f/);
    assert.doesNotMatch(text, /python_driver|<sandpit/);
  });

  test('invalid arguments are an isError result that says what is wrong', async () => {
    const result = await call(client, 'run_code', { code: 'print(1)', language: 'rust' });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /'language' must be one of python, javascript, typescript, bash, got "rust"/);
  });

  test('a matplotlib plot gives a decodable PNG image block', async () => {
    const result = await call(client, 'run_code', { code: PLOT });
    assert.equal(result.isError, false, textOf(result));
    const images = result.content.filter((c) => c.type === 'image');
    assert.equal(images.length, 1);
    assert.equal(images[0].mimeType, 'image/png');
    const [width, height] = pngSize(images[0].data);
    assert.ok(width > 100 && height > 100, `${width}x${height}`);
  });

  test('a run of 6 s sends progress', async () => {
    const progress = [];
    const code = 'import time\nfor i in range(6):\n    print("tick", i, flush=True)\n    time.sleep(1)';
    const result = await call(client, 'run_code', { code }, { onprogress: (p) => progress.push(p), timeout: 30_000 });
    assert.equal(result.isError, false, textOf(result));
    assert.ok(progress.length >= 2, `progress notifications: ${JSON.stringify(progress)}`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
    assert.ok(progress.some((p) => /tick \d/.test(p.message ?? '')), JSON.stringify(progress));
  });

  test('a client-side timeout cancels the run; the audit log shows it; the session goes on', async () => {
    await call(client, 'run_code', { code: 'kept = "still here"' });
    const started = Date.now();
    await assert.rejects(call(client, 'run_code', { code: 'import time\ntime.sleep(60)' }, { timeout: 1500 }), /timed out|timeout/i);
    assert.ok(Date.now() - started < 10_000);
    const result = await call(client, 'run_code', { code: 'kept' });
    assert.equal(result.isError, false, textOf(result));
    assert.match(textOf(result), /still here/);
    const cancelled = sandbox.auditRecords().filter((r) => r.cancelled);
    assert.equal(cancelled.length, 1, JSON.stringify(cancelled));
    assert.match(cancelled[0].cancelled, /^cancelled by the client/);
    assert.equal(cancelled[0].command, 'mcp');
    assert.equal(cancelled[0].success, false);
    assert.equal(cancelled[0].client, clientName);
  });

  test('every call is audited with the client name and version', async () => {
    const runs = sandbox.auditRecords().filter((r) => r.command === 'mcp');
    assert.ok(runs.length >= 8, `${runs.length} records`);
    for (const r of runs) assert.equal(r.client, clientName);
  });

  if (ping) {
    test('ping works', async () => {
      assert.deepEqual(await client.ping(), {});
    });
  }

  test('closes', async () => {
    await close();
  });
}
