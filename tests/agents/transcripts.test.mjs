// Raw JSON-RPC transcripts piped into `sandpit mcp`: the protocol without any SDK in between.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { rawSession, SANDPIT, Sandbox } from './helpers.mjs';

const sandbox = new Sandbox('transcripts');
after(() => sandbox.cleanup());

const req = (id, method, params) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
const byId = (lines) => Object.fromEntries(lines.map((l) => JSON.parse(l)).filter((m) => !Array.isArray(m) && m.id != null).map((m) => [m.id, m]));
const envelope = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

describe('raw JSON-RPC transcripts', () => {
  test('a handshake, a batch, an unknown method, malformed JSON: every answer, and nothing but JSON on stdout', async () => {
    const { lines, stdout, status } = await rawSession(sandbox, [
      req(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }),
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      '{"jsonrpc": "2.0", "id": 2, "method": ',
      req(3, 'no/such/method'),
      JSON.stringify([req(4, 'ping'), req(5, 'tools/list'), JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress' })].map((s) => JSON.parse(s))),
      req(6, 'tools/call', { name: 'run_code', arguments: { code: 'print("after the bad lines")' } }),
      req(7, 'tools/call', { name: 'no_such_tool', arguments: {} }),
      req(8, 'tools/list', 'not an object'),
    ]);
    assert.equal(status, 0);
    assert.ok(stdout.endsWith('\n'));
    const messages = lines.map((l) => JSON.parse(l)); // throws if any line is not JSON
    for (const m of [messages].flat(2)) assert.equal(m.jsonrpc, '2.0');
    const answers = byId(lines);
    assert.equal(answers[1].result.serverInfo.name, 'sandpit');
    const parseError = messages.find((m) => m.error?.code === -32700);
    assert.equal(parseError.id, null);
    assert.equal(answers[3].error.code, -32601);
    const batch = messages.find(Array.isArray);
    assert.deepEqual(batch.map((m) => m.id), [4, 5]);
    assert.deepEqual(batch[0].result, {});
    assert.equal(batch[1].result.tools.length, 4);
    assert.match(answers[6].result.content[0].text, /after the bad lines/);
    assert.equal(answers[7].error.code, -32602);
    assert.equal(answers[8].error.code, -32602);
    assert.equal(messages.length, 7); // notifications get no answer
  });

  test('2026-07-28: discover, and an unsupported version gets its documented error', async () => {
    const { lines } = await rawSession(sandbox, [
      req('d', 'server/discover', { _meta: envelope }),
      req(1, 'tools/list', { _meta: { ...envelope, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } }),
      req(2, 'ping', { _meta: envelope }),
    ]);
    const answers = byId(lines);
    assert.deepEqual(answers.d.result.supportedVersions, ['2026-07-28']);
    assert.equal(answers.d.result.resultType, 'complete');
    assert.deepEqual(answers[1].error, {
      code: -32022,
      message: 'Unsupported protocol version: 2099-01-01',
      data: { supported: ['2026-07-28'], requested: '2099-01-01' },
    });
    assert.equal(answers[2].error.code, -32601);
  });

  test('stdin EOF ends the server within 2 s, even with a run in progress', async () => {
    const child = spawn(SANDPIT, ['mcp'], { env: sandbox.env(), stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.write(req(1, 'tools/call', { name: 'run_code', arguments: { code: 'print("started", flush=True)\nimport time\ntime.sleep(60)', session: 'eof' } }) + '\n');
    // The run is under way once the audit log's session has started: wait for the daemon's socket.
    const socket = () => fs.readdirSync(path.join(sandbox.state, 'sandpit', 'workspaces')).some((d) => d.startsWith('eof-') && fs.existsSync(path.join(sandbox.state, 'sandpit', 'workspaces', d, 'socket')));
    for (let i = 0; i < 100 && !(fs.existsSync(path.join(sandbox.state, 'sandpit', 'workspaces')) && socket()); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    const closed = new Promise((resolve) => child.on('close', resolve));
    const started = Date.now();
    child.stdin.end();
    const status = await closed;
    const took = Date.now() - started;
    assert.equal(status, 0);
    assert.ok(took < 2000, `took ${took} ms`);
    assert.equal(out, ''); // the cancelled call gets no response
    const record = sandbox.auditRecords().find((r) => r.cancelled);
    assert.match(record.cancelled, /closed its input/);
  });

  test('start-up does no work: a throwaway probe reads no config and leaves nothing behind', async () => {
    const probe = new Sandbox('probe');
    try {
      fs.writeFileSync(probe.configFile, 'this is = not [valid toml');
      const { lines, status } = await rawSession(probe, [req(1, 'server/discover', { _meta: envelope }), req(2, 'tools/list')]);
      assert.equal(status, 0);
      assert.equal(lines.length, 2);
      assert.deepEqual(fs.readdirSync(probe.state), []); // no lock, no log, no daemon
      // The first tool call is where the config counts.
      const call = await rawSession(probe, [req(3, 'tools/call', { name: 'run_code', arguments: { code: '1' } })]);
      const answer = JSON.parse(call.lines[0]);
      assert.equal(answer.result.isError, true);
      assert.match(answer.result.content[0].text, /^sandpit: .*sandpit\.toml:1:/);
    } finally {
      probe.cleanup();
    }
  });

  test('long output is cut to head and tail, and the whole of it saved in the session', async () => {
    const code = 'for i in range(50000):\n    print(f"line {i}")';
    const { lines } = await rawSession(sandbox, [req(1, 'tools/call', { name: 'run_code', arguments: { code, session: 'long' } })]);
    const text = JSON.parse(lines[0]).result.content[0].text;
    assert.ok(text.length < 21_000, `${text.length} characters`);
    assert.match(text, /^\[exit 0 ·[^\n]*\]\nline 0\nline 1\n/);
    assert.match(text, /line 49999\n$/);
    const saved = text.match(/the whole output is in (\/workspace\/\S+) /)[1];
    const check = await rawSession(sandbox, [
      req(2, 'tools/call', { name: 'run_code', arguments: { code: `len(open("${saved}").read().splitlines())`, session: 'long' } }),
    ]);
    assert.match(JSON.parse(check.lines[0]).result.content[0].text, /\[result\]\n50000\n/);
  });

  test('a file too large to return inline is refused with the way out, and nothing is lost', async () => {
    const { lines } = await rawSession(sandbox, [
      req(1, 'tools/call', { name: 'run_code', arguments: { code: 'open("big.bin", "wb").write(b"x" * (11 << 20))', session: 'big' } }),
      req(2, 'tools/call', { name: 'download_file', arguments: { path: 'big.bin', session: 'big' } }),
      req(3, 'tools/call', { name: 'upload_file', arguments: { path: 'nul\u0000.txt', content_base64: 'eA==', session: 'big' } }),
    ]);
    const answers = byId(lines);
    assert.equal(answers[2].result.isError, true);
    assert.match(answers[2].result.content[0].text, /larger than download_file returns inline \(10MiB\): give host_path/);
    assert.match(answers[3].result.content[0].text, /'path' contains a NUL byte/);
  });
});
