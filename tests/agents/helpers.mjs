// What the agent tests share: a private sandpit (state, config, audit log), the binary, and cleanup.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SANDPIT = process.env.SANDPIT_BIN || path.resolve(here, '../../build/sandpit');
export const GOLDEN_TOOLS = JSON.parse(fs.readFileSync(path.join(here, 'golden', 'tools.json'), 'utf8'));

// A private home for one test file: its own state folder (daemons, audit log) and config.
export class Sandbox {
  constructor(name) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `sandpit-agents-${name}-`));
    this.state = path.join(this.root, 'state');
    this.configFile = path.join(this.root, 'sandpit.toml');
    fs.mkdirSync(this.state);
    fs.mkdirSync(path.join(this.root, 'config'));
    fs.writeFileSync(this.configFile, '');
  }

  // The environment sandpit mcp runs with: the SDK transports pass only a few variables unless told.
  env() {
    return {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: this.root,
      LANG: 'C.UTF-8',
      XDG_STATE_HOME: this.state,
      XDG_CONFIG_HOME: path.join(this.root, 'config'),
      SANDPIT_CONFIG: this.configFile,
    };
  }

  // The arguments of `sandpit -e K=V ...` for clients that filter the environment (the Inspector).
  envFlags() {
    return Object.entries(this.env()).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  }

  // One record per action, as `sandpit audit` shows them: an intent whose outcome is in the log
  // is left out (the outcome names it in "intent" and stands for both).
  auditRecords() {
    const file = path.join(this.state, 'sandpit', 'audit.jsonl');
    if (!fs.existsSync(file)) return [];
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const completed = new Set(lines.filter((r) => r.intent).map((r) => r.intent));
    return lines.filter((r) => !(r.phase === 'intent' && completed.has(r.hash)));
  }

  sandpit(...args) {
    return execFileSync(SANDPIT, args, { env: this.env(), encoding: 'utf8', timeout: 60_000 });
  }

  // Stops every session daemon the tests started, then removes the folder.
  cleanup() {
    const sessions = path.join(this.state, 'sandpit', 'mcp', 'sessions');
    if (fs.existsSync(sessions)) {
      for (const name of fs.readdirSync(sessions)) {
        try {
          this.sandpit('session', 'stop', '-w', path.join(sessions, name));
        } catch {
          // already gone
        }
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

// `sandpit mcp` with raw lines on stdin; resolves with its stdout lines, stderr and exit status.
export function rawSession(sandbox, lines, { endInput = true, args = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(SANDPIT, ['mcp', ...args], { env: sandbox.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ lines: stdout.split('\n').filter(Boolean), stdout, stderr, status }));
    for (const line of lines) child.stdin.write(line + '\n');
    if (endInput) child.stdin.end();
  });
}

// The text of a tool result's text blocks.
export function textOf(result) {
  return result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

// Decodes a base64 PNG and checks its signature and IHDR; returns [width, height].
export function pngSize(base64) {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.subarray(0, 8).toString('binary') !== '\x89PNG\r\n\x1a\n') throw new Error('not a PNG');
  if (bytes.subarray(12, 16).toString('ascii') !== 'IHDR') throw new Error('PNG without IHDR');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

export const PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()";
