// Files through the SDK: read, write, list, exists, rename, remove, mkdir, watch, signed URLs, and what is refused.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Sandbox, FileType, FileNotFoundError, SandboxError } from 'e2b';
import { Served, sleep } from './helpers.mjs';

const served = new Served('files');
let sbx;
before(async () => {
  await served.start();
  sbx = await Sandbox.create();
});
after(async () => {
  await sbx?.kill();
  await served.cleanup();
});

describe('files', () => {
  test('text written is read back, by absolute and by relative path (home is /home/user)', async () => {
    const info = await sbx.files.write('/home/user/notes/hello.txt', 'héllo wörld\n');
    assert.deepEqual({ name: info.name, path: info.path, type: info.type }, { name: 'hello.txt', path: '/home/user/notes/hello.txt', type: FileType.FILE });
    assert.equal(await sbx.files.read('notes/hello.txt'), 'héllo wörld\n');
    assert.equal((await sbx.commands.run('cat /workspace/notes/hello.txt')).stdout, 'héllo wörld\n', '/workspace is the same files');
  });

  test('a 300 KB binary file makes the round trip byte for byte', async () => {
    const bytes = crypto.randomBytes(300 * 1024);
    await sbx.files.write('/home/user/blob.bin', bytes);
    const back = await sbx.files.read('/home/user/blob.bin', { format: 'bytes' });
    assert.equal(Buffer.compare(Buffer.from(back), bytes), 0);
    const sum = (await sbx.commands.run('sha256sum /home/user/blob.bin')).stdout.split(' ')[0];
    assert.equal(sum, crypto.createHash('sha256').update(bytes).digest('hex'));
    const upload = served.auditRecords().find((r) => r.command === 'serve' && r.operation === 'upload' && r.to === '/home/user/blob.bin');
    assert.equal(upload.files[0].sha256, sum);
  });

  test('an empty file reads back empty', async () => {
    await sbx.files.write('/home/user/empty.txt', '');
    assert.equal(await sbx.files.read('/home/user/empty.txt'), '');
  });

  test('several files in one write, and gzip uploads', async () => {
    const written = await sbx.files.write([
      { path: '/home/user/multi/a.txt', data: 'A' },
      { path: '/home/user/multi/b.txt', data: 'B' },
    ]);
    assert.deepEqual(written.map((w) => w.path), ['/home/user/multi/a.txt', '/home/user/multi/b.txt']);
    await sbx.files.write('/home/user/multi/c.txt', 'zipped', { gzip: true });
    assert.equal(await sbx.files.read('/home/user/multi/c.txt'), 'zipped');
  });

  test('list, getInfo, exists, makeDir, rename, remove', async () => {
    assert.equal(await sbx.files.makeDir('/home/user/tree/deep/er'), true);
    assert.equal(await sbx.files.makeDir('/home/user/tree'), false, 'an existing directory');
    await sbx.files.write('/home/user/tree/one.txt', '1');
    const top = await sbx.files.list('/home/user/tree');
    assert.deepEqual(top.map((e) => [e.name, e.type]), [['deep', FileType.DIR], ['one.txt', FileType.FILE]]);
    const deep = await sbx.files.list('/home/user/tree', { depth: 3 });
    assert.deepEqual(deep.map((e) => e.path), ['/home/user/tree/deep', '/home/user/tree/deep/er', '/home/user/tree/one.txt']);
    const info = await sbx.files.getInfo('/home/user/tree/one.txt');
    assert.equal(info.size, 1);
    assert.equal(info.permissions, '-rw-r--r--');
    assert.equal(info.owner, 'user');
    assert.ok(info.modifiedTime instanceof Date);
    assert.equal(await sbx.files.exists('/home/user/tree/one.txt'), true);
    assert.equal(await sbx.files.exists('/home/user/tree/two.txt'), false);
    const moved = await sbx.files.rename('/home/user/tree/one.txt', '/home/user/tree/deep/two.txt');
    assert.equal(moved.path, '/home/user/tree/deep/two.txt');
    await sbx.files.remove('/home/user/tree');
    assert.equal(await sbx.files.exists('/home/user/tree'), false);
    await sbx.files.remove('/home/user/never-was'); // a missing path is no error, as in E2B
  });

  test('/tmp is the sandbox\'s own /tmp', async () => {
    await sbx.files.write('/tmp/scratch.txt', 'tmp data');
    assert.equal((await sbx.commands.run('cat /tmp/scratch.txt')).stdout, 'tmp data');
    await sbx.commands.run('echo made inside > /tmp/inside.txt');
    assert.equal(await sbx.files.read('/tmp/inside.txt'), 'made inside\n');
  });

  test('reading what is not there is a FileNotFoundError; the rest of the sandbox is read-only', async () => {
    await assert.rejects(sbx.files.read('/home/user/missing.txt'), FileNotFoundError);
    await assert.rejects(sbx.files.write('/etc/passwd', 'x'), (e) => e instanceof SandboxError && /permission denied/.test(e.message));
    await assert.rejects(sbx.files.list('/etc'), /permission denied|permission_denied/);
  });

  test('a symlink planted by sandboxed code is never followed out', async () => {
    await sbx.commands.run('ln -s /etc/shadow /home/user/escape; ln -s / /home/user/rootlink');
    await assert.rejects(sbx.files.read('/home/user/escape'), /symbolic link/);
    await assert.rejects(sbx.files.write('/home/user/rootlink/x.txt', 'x'), /symbolic link/);
    const entries = await sbx.files.list('/home/user');
    assert.equal(entries.find((e) => e.name === 'escape').type, FileType.SYMLINK);
  });

  test('signed upload and download URLs work without the SDK', async () => {
    const up = await sbx.uploadUrl('/home/user/by-url.txt');
    const form = new FormData();
    form.append('file', new Blob(['through a URL']), '/home/user/by-url.txt');
    const put = await fetch(up, { method: 'POST', body: form });
    assert.equal(put.status, 200);
    const down = await sbx.downloadUrl('/home/user/by-url.txt', { useSignatureExpiration: 60 });
    assert.equal(await (await fetch(down)).text(), 'through a URL');
    const forged = down.replace(/signature=[^&]+/, 'signature=v1_forged');
    assert.equal((await fetch(forged)).status, 401);
  });

  test('watchDir reports what happens in a folder', async () => {
    await sbx.files.makeDir('/home/user/watched');
    const events = [];
    const handle = await sbx.files.watchDir('/home/user/watched', (e) => events.push(`${e.type}:${e.name}`), { timeoutMs: 0 });
    await sbx.files.write('/home/user/watched/new.txt', 'x');
    await sbx.commands.run('echo more >> /home/user/watched/new.txt && rm /home/user/watched/new.txt');
    for (let i = 0; i < 50 && !events.some((e) => e.startsWith('remove')); i++) await sleep(50);
    await handle.stop();
    assert.ok(events.some((e) => /^(create|write):new\.txt$/.test(e)), events.join(','));
    assert.ok(events.includes('remove:new.txt'), events.join(','));
  });
});
