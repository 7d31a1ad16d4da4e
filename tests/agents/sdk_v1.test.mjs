// The official TypeScript SDK (v1: Client + StdioClientTransport), handshake era.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { conformance } from './conformance.mjs';
import { GOLDEN_TOOLS, PLOT, pngSize, SANDPIT, Sandbox, textOf } from './helpers.mjs';

const sandbox = new Sandbox('sdk-v1');
after(() => sandbox.cleanup());

async function connect(args = []) {
  const client = new Client({ name: 'sdk-v1-test', version: '1.32.2' }, { capabilities: {} });
  const transport = new StdioClientTransport({ command: SANDPIT, args: ['mcp', ...args], env: sandbox.env(), stderr: 'inherit' });
  await client.connect(transport);
  return { client, close: () => client.close() };
}
const call = (client, name, args, options = {}) => client.callTool({ name, arguments: args }, undefined, options);

describe('@modelcontextprotocol/sdk 1.32.2, initialize handshake', () => {
  conformance({ connect, call, sandbox, clientName: 'sdk-v1-test 1.32.2', ping: true });

  test('the handshake negotiated a 2025 protocol version', async () => {
    const { client, close } = await connect();
    assert.equal(client.getServerVersion().name, 'sandpit');
    assert.deepEqual(client.getServerCapabilities(), { tools: { listChanged: false } });
    await close();
  });
});

describe('files through upload_file and download_file', () => {
  const allowed = path.join(sandbox.root, 'allowed');
  fs.mkdirSync(allowed);
  let client;
  let close;

  test('connects with --allow-dir', async () => {
    ({ client, close } = await connect(['--allow-dir', allowed]));
  });

  test('content_base64 goes in byte for byte; run_code sees it; download_file gives it back', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const up = await call(client, 'upload_file', { path: 'data/all.bin', content_base64: bytes.toString('base64'), session: 'files' });
    assert.equal(up.isError, false, textOf(up));
    assert.match(textOf(up), /^uploaded \(content_base64, 256 bytes\) -> \/workspace\/data\/all\.bin \(256B, sha256 40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880/);
    const seen = await call(client, 'run_code', { code: 'len(open("/workspace/data/all.bin","rb").read())', session: 'files' });
    assert.match(textOf(seen), /\[result\]\n256\n/);
    const down = await call(client, 'download_file', { path: '/workspace/data/all.bin', session: 'files' });
    const resource = down.content.find((c) => c.type === 'resource').resource;
    assert.equal(resource.uri, 'file:///workspace/data/all.bin');
    assert.deepEqual(Buffer.from(resource.blob, 'base64'), bytes);
  });

  test('text comes back as text and a plot as an image', async () => {
    await call(client, 'run_code', { code: 'open("note.txt", "w").write("hello from the sandbox\\n")\n' + PLOT + '\nplt.savefig("plot.png")', session: 'files' });
    const text = await call(client, 'download_file', { path: 'note.txt', session: 'files' });
    assert.equal(text.content[1].type, 'text');
    assert.equal(text.content[1].text, 'hello from the sandbox\n');
    const image = await call(client, 'download_file', { path: 'plot.png', session: 'files' });
    assert.equal(image.content[1].mimeType, 'image/png');
    assert.ok(pngSize(image.content[1].data)[0] > 100);
  });

  test('host_path: in and out under --allow-dir, refused anywhere else', async () => {
    fs.writeFileSync(path.join(allowed, 'in.csv'), 'a,b\n1,2\n');
    const up = await call(client, 'upload_file', { path: 'in.csv', host_path: path.join(allowed, 'in.csv'), session: 'files' });
    assert.equal(up.isError, false, textOf(up));
    const out = path.join(allowed, 'out.csv');
    const down = await call(client, 'download_file', { path: 'in.csv', host_path: out, session: 'files' });
    assert.equal(down.isError, false, textOf(down));
    assert.equal(fs.readFileSync(out, 'utf8'), 'a,b\n1,2\n');
    const again = await call(client, 'download_file', { path: 'in.csv', host_path: out, session: 'files' });
    assert.equal(again.isError, true); // never over an existing file
    const outside = await call(client, 'upload_file', { path: 'x', host_path: '/etc/passwd', session: 'files' });
    assert.equal(outside.isError, true);
    assert.match(textOf(outside), /outside the directories this server allows/);
    fs.symlinkSync('/etc', path.join(allowed, 'escape'));
    const viaLink = await call(client, 'upload_file', { path: 'x', host_path: path.join(allowed, 'escape', 'passwd'), session: 'files' });
    assert.equal(viaLink.isError, true);
    assert.match(textOf(viaLink), /outside the directories this server allows/);
  });

  test('bad file arguments: both sources, neither, a path out of the sandbox, bad base64', async () => {
    const both = await call(client, 'upload_file', { path: 'x', content_base64: 'eA==', host_path: '/tmp/x', session: 'files' });
    assert.match(textOf(both), /give exactly one of 'content_base64' and 'host_path'/);
    const neither = await call(client, 'upload_file', { path: 'x', session: 'files' });
    assert.equal(neither.isError, true);
    const escape = await call(client, 'upload_file', { path: '../../etc/x', content_base64: 'eA==', session: 'files' });
    assert.equal(escape.isError, true);
    const bad = await call(client, 'upload_file', { path: 'x', content_base64: 'not base64!', session: 'files' });
    assert.match(textOf(bad), /'content_base64' is not valid base64/);
    const link = await call(client, 'run_code', { code: 'import os; os.symlink("/etc/passwd", "/workspace/link")', session: 'files' });
    assert.equal(link.isError, false, textOf(link));
    const viaLink = await call(client, 'download_file', { path: 'link', session: 'files' });
    assert.equal(viaLink.isError, true); // a symlink the sandbox planted is never followed
  });

  test('transfers are audited with the client', async () => {
    const records = sandbox.auditRecords().filter((r) => r.command === 'upload' || r.command === 'download');
    assert.ok(records.length >= 6);
    assert.ok(records.every((r) => r.client === 'sdk-v1-test 1.32.2'));
    assert.ok(records.some((r) => r.success && r.files?.[0]?.sha256 === '40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880'));
  });

  test('reset_session drops state, and wipe_files the files', async () => {
    await call(client, 'run_code', { code: 'gone = 1', session: 'files' });
    const reset = await call(client, 'reset_session', { session: 'files' });
    assert.equal(reset.isError, false, textOf(reset));
    assert.match(textOf(await call(client, 'run_code', { code: 'gone', session: 'files' })), /NameError/);
    assert.match(textOf(await call(client, 'run_code', { code: 'import os; os.path.exists("note.txt")', session: 'files' })), /True/);
    await call(client, 'reset_session', { session: 'files', wipe_files: true });
    assert.match(textOf(await call(client, 'run_code', { code: 'import os; os.path.exists("note.txt")', session: 'files' })), /False/);
  });

  test('closes', async () => {
    await close();
  });
});

describe('--structured: output schemas, and structuredContent the SDK validates against them', () => {
  let client;
  let close;

  test('connects with --structured; every tool declares an outputSchema', async () => {
    ({ client, close } = await connect(['--structured']));
    const { tools } = await client.listTools(); // the SDK keeps the schemas and checks each result against its own
    assert.deepEqual(tools.map((t) => t.name), GOLDEN_TOOLS.map((t) => t.name));
    for (const tool of tools) assert.equal(tool.outputSchema?.type, 'object', tool.name);
  });

  test('run_code: the exec --json object, images without base64, beside the same content blocks', async () => {
    const result = await call(client, 'run_code', { code: PLOT + '\nprint("plotted")\n6 * 7', session: 'structured' });
    assert.equal(result.isError, false, textOf(result));
    const s = result.structuredContent;
    assert.equal(s.success, true);
    assert.equal(s.language, 'python');
    assert.equal(s.stdout, 'plotted\n');
    assert.deepEqual(s.result, { 'text/plain': '42' });
    assert.equal(s.images.length, 1);
    assert.equal(s.images[0].base64, undefined);
    assert.equal(s.exit_code, 0);
    assert.match(textOf(result), /plotted/);
    assert.equal(result.content.filter((c) => c.type === 'image').length, 1);
  });

  test('a failed run: the error object, and isError', async () => {
    const result = await call(client, 'run_code', { code: 'undefined_name', session: 'structured' });
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.error.name, 'NameError');
  });

  test('upload_file and reset_session report structured too', async () => {
    const up = await call(client, 'upload_file', { path: 'x.txt', content_base64: Buffer.from('x').toString('base64'), session: 'structured' });
    assert.equal(up.structuredContent.bytes, 1);
    const reset = await call(client, 'reset_session', { session: 'structured' });
    assert.deepEqual(reset.structuredContent, { session: 'structured', wiped_files: false });
  });

  test('closes', async () => {
    await close();
  });
});
