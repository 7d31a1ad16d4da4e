// TypeScript cells for the Node.js driver: types stripped by esbuild's service (one
// /usr/bin/esbuild --service per kernel, started by the first TypeScript cell), and
// positions in the JavaScript it emits mapped back to the TypeScript source.
'use strict';
const typescriptCells = (require) => {
  const { spawn, execFileSync } = require('child_process');
  const k_esbuild = '/usr/bin/esbuild';
  // What Node's and Deno's type stripping give: decorators as TypeScript's
  // experimentalDecorators, class fields with [[Define]] semantics as in JavaScript.
  const k_flags = ['--loader=ts', '--sourcemap=external', '--sources-content=false', '--charset=utf8', '--log-level=silent',
    '--tsconfig-raw={"compilerOptions":{"experimentalDecorators":true,"useDefineForClassFields":true}}'];
  const k_kept_maps = 1000; // cells whose positions stay mappable; the oldest go first

  // esbuild's service protocol (its own npm package speaks it; Debian ships only the
  // binary): packets of a little-endian uint32 length, then a uint32 id (low bit set on
  // responses) and one value, each tagged 0 null, 1 bool, 2 int32, 3 string, 4 bytes,
  // 5 array, 6 object. The first packet from the service is its version.
  const encode = (id, value) => {
    const parts = [];
    const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); parts.push(b); };
    const bytes = (b) => { u32(b.length); parts.push(b); };
    const visit = (v) => {
      if (v === null) parts.push(Buffer.from([0]));
      else if (typeof v === 'boolean') parts.push(Buffer.from([1, v ? 1 : 0]));
      else if (typeof v === 'number') { parts.push(Buffer.from([2])); u32(v); }
      else if (typeof v === 'string') { parts.push(Buffer.from([3])); bytes(Buffer.from(v)); }
      else if (v instanceof Uint8Array) { parts.push(Buffer.from([4])); bytes(Buffer.from(v)); }
      else if (Array.isArray(v)) { parts.push(Buffer.from([5])); u32(v.length); v.forEach(visit); }
      else { parts.push(Buffer.from([6])); u32(Object.keys(v).length); for (const k of Object.keys(v)) { bytes(Buffer.from(k)); visit(v[k]); } }
    };
    u32(0);
    u32(id);
    visit(value);
    const packet = Buffer.concat(parts);
    packet.writeUInt32LE(packet.length - 4, 0);
    return packet;
  };
  const decode = (b) => {
    let at = 0;
    const u32 = () => { const n = b.readUInt32LE(at); at += 4; return n; };
    const bytes = () => { const n = u32(); at += n; return b.subarray(at - n, at); };
    const visit = () => {
      switch (b[at++]) {
      case 0: return null;
      case 1: return b[at++] !== 0;
      case 2: return u32() | 0;
      case 3: return bytes().toString();
      case 4: return bytes();
      case 5: return Array.from({ length: u32() }, visit);
      case 6: { const o = {}; for (let n = u32(); n > 0; n--) { const k = bytes().toString(); o[k] = visit(); } return o; }
      default: throw new Error('esbuild sent a packet sandpit cannot read');
      }
    };
    const id = u32();
    return { id: id >>> 1, response: (id & 1) === 1, value: visit() };
  };

  let service = null;
  let version = null;
  const startService = () => {
    try {
      version = version || execFileSync(k_esbuild, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch (err) {
      throw new Error(`TypeScript cells need esbuild (${k_esbuild}: ${err.code || err.message}): install the Debian package esbuild`);
    }
    // Its own session: a Ctrl-C for the cell's process group must not reach it.
    const child = spawn(k_esbuild, [`--service=${version}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const s = { child, waiting: new Map(), next: 0, pending: Buffer.alloc(0), greeted: false, stderr: '' };
    const fail = (why) => {
      if (service === s) service = null;
      for (const w of [...s.waiting.values()]) w.reject(new Error(`esbuild ${why}${s.stderr ? ': ' + s.stderr.trim() : ''}`));
    };
    child.on('error', (err) => fail(`could not start (${err.message})`));
    child.on('exit', (code, signal) => fail(signal ? `was killed by ${signal}` : `exited with status ${code}`));
    child.stderr.on('data', (d) => { s.stderr = (s.stderr + d).slice(-2000); });
    child.stdout.on('data', (chunk) => {
      s.pending = Buffer.concat([s.pending, chunk]);
      while (s.pending.length >= 4 && s.pending.length >= 4 + s.pending.readUInt32LE(0)) {
        const body = s.pending.subarray(4, 4 + s.pending.readUInt32LE(0));
        s.pending = s.pending.subarray(4 + body.length);
        if (!s.greeted) { s.greeted = true; continue; } // its version, already known
        const packet = decode(body);
        if (!packet.response) { child.stdin.write(encode((packet.id << 1) | 1, {})); continue; } // a ping
        const w = s.waiting.get(packet.id);
        if (w) w.resolve(packet.value);
      }
    });
    // The kernel exits when its cells end (the service follows when its stdin closes),
    // but not while a cell waits for an answer (see request).
    for (const stream of [child.stdin, child.stdout, child.stderr]) stream.unref();
    child.stdin.on('error', () => {});
    child.unref();
    return s;
  };
  const request = (s, source, filename) => new Promise((resolve, reject) => {
    const id = s.next++;
    const done = (f) => (v) => {
      s.waiting.delete(id);
      if (s.waiting.size === 0) s.child.stdout.unref();
      f(v);
    };
    s.waiting.set(id, { resolve: done(resolve), reject: done(reject) });
    s.child.stdout.ref();
    s.child.stdin.write(encode(id << 1, { command: 'transform', flags: [...k_flags, `--sourcefile=${filename}`], inputFS: false, input: Buffer.from(source) }));
  });
  // A service that died between cells (session.background = "kill" stops it after each
  // one) may not have been noticed yet: a request that fails is tried once more, on a
  // new service.
  const transform = async (source, filename) => {
    const s = service || (service = startService());
    try {
      return await request(s, source, filename);
    } catch {
      return request(service || (service = startService()), source, filename);
    }
  };

  // Source maps, decoded only when an error needs one: per generated line, [column, line, column] segments.
  const k_base64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const segmentsOf = (mappings) => {
    const lines = [];
    const state = [0, 0, 0, 0];
    for (const line of mappings.split(';')) {
      const segments = [];
      state[0] = 0;
      for (const segment of line ? line.split(',') : []) {
        const fields = [];
        for (let i = 0, value = 0, shift = 0; i < segment.length; i++) {
          const digit = k_base64.indexOf(segment[i]);
          value += (digit & 31) << shift;
          shift += 5;
          if (digit & 32) continue;
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
        for (let f = 0; f < fields.length; f++) state[f] += fields[f];
        if (fields.length >= 4) segments.push([state[0], state[2], state[3]]);
      }
      lines.push(segments);
    }
    return lines;
  };
  const maps = new Map(); // filename -> { source, map (JSON), lines (decoded on first use) }
  const remember = (filename, source, map) => {
    maps.delete(filename);
    maps.set(filename, { source, map, lines: null });
    if (maps.size > k_kept_maps) maps.delete(maps.keys().next().value);
  };
  // 1-based line and column in the JavaScript -> in the TypeScript: the start of the
  // mapped piece of code the position falls in (the driver's own rewrites of a line,
  // for declarations and top-level await, shift columns but not lines).
  const original = (m, line, column) => {
    m.lines = m.lines || segmentsOf(JSON.parse(m.map).mappings);
    for (let l = line - 1; l >= 0; l--) {
      const segments = m.lines[l] || [];
      if (segments.length === 0) continue;
      const at = l === line - 1 ? segments.filter((s) => s[0] <= column - 1).pop() || segments[0] : segments[segments.length - 1];
      return [at[1] + 1, at[2] + 1];
    }
    return [line, column];
  };
  const sourceLine = (m, line) => m.source.split('\n')[line - 1] || '';
  const asString = (v) => (typeof v === 'string' ? v : Buffer.from(v || '').toString()); // later esbuilds send bytes

  // A stack or a syntax error's header, with every position in a TypeScript cell mapped
  // back; the SyntaxErrors made here from esbuild's errors point at TypeScript already.
  const ownErrors = new WeakSet();
  const mapStack = (err, text) => {
    if (maps.size === 0 || ownErrors.has(err)) return text;
    return text
      .replace(/^(.+):(\d+)\n.*\n( *)\^+ *$/m, (all, file, line, indent) => {
        const m = maps.get(file);
        if (!m) return all;
        const [l, c] = original(m, Number(line), indent.length + 1);
        return `${file}:${l}\n${sourceLine(m, l)}\n${' '.repeat(c - 1)}^`;
      })
      .replace(/^(\s+at (?:async )?(?:.*? \()?)(.+?):(\d+):(\d+)(\)?)$/gm, (all, head, file, line, column, tail) => {
        const m = maps.get(file);
        if (!m) return all;
        const [l, c] = original(m, Number(line), Number(column));
        return `${head}${file}:${l}:${c}${tail}`;
      });
  };

  // esbuild's first error as Node would print a SyntaxError: the line, a caret, the message.
  const syntaxError = (source, filename, error) => {
    const where = error.location;
    const err = new SyntaxError(error.text);
    if (where) {
      const code = source.split('\n')[where.line - 1] || '';
      const column = Buffer.from(code).subarray(0, where.column).toString().length; // esbuild counts bytes
      err.stack = `${filename}:${where.line}\n${code}\n${' '.repeat(column)}^\n\nSyntaxError: ${error.text}`;
    } else {
      err.stack = `SyntaxError: ${error.text}`;
    }
    ownErrors.add(err);
    return err;
  };

  // The cell's JavaScript; throws a SyntaxError pointing at the TypeScript line.
  const transpile = async (source, filename) => {
    const out = await transform(source, filename);
    if (out.errors && out.errors.length) throw syntaxError(source, filename, out.errors[0]);
    remember(filename, source, asString(out.map));
    return asString(out.code);
  };

  // Is the cell complete? Errors at the end of the input wait for more lines; so does
  // a template literal left open (esbuild calls it a string: closing it tells which).
  const check = async (source) => {
    const errors = (await transform(source, '<check>')).errors || [];
    if (errors.length === 0) return 'complete';
    const text = errors[0].text;
    if (/end of file|to terminate multi-line comment/.test(text)) return 'incomplete';
    if (text === 'Unterminated string literal') {
      const closed = (await transform(source + '`', '<check>')).errors || [];
      if (closed.length === 0 || closed[0].text !== text) return 'incomplete';
    }
    return 'invalid';
  };

  return { transpile, check, mapStack };
};
