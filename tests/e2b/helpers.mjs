// What the E2B tests share: a private `sandpit serve` (its own state folder, config and audit log) that the SDKs talk to.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SANDPIT = process.env.SANDPIT_BIN || path.resolve(here, '../../build/sandpit');

// One `sandpit serve` for a test file. Its three `export` lines become process.env, where the SDKs read them.
export class Served {
  // `pool`: the warm pool's size (session.pool); none unless a test asks, so that no other test pays for filling it.
  constructor(name, { config = '', args = [], pool = 0 } = {}) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `sandpit-e2b-${name}-`));
    this.state = path.join(this.root, 'state');
    this.configFile = path.join(this.root, 'sandpit.toml');
    fs.mkdirSync(this.state);
    fs.mkdirSync(path.join(this.root, 'config', 'sandpit'), { recursive: true });
    fs.writeFileSync(path.join(this.root, 'config', 'sandpit', 'config.toml'), `[session]\npool = ${pool}\n`);
    fs.writeFileSync(this.configFile, config);
    this.args = args;
    this.stderr = '';
  }

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

  // Starts the server and waits for its three lines; sets E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY.
  async start() {
    this.child = spawn(SANDPIT, ['serve', '--listen', '127.0.0.1:0', ...this.args], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sandpit serve printed no address: ${this.stderr}`)), 20_000);
      this.child.stdout.on('data', (d) => {
        out += d;
        if (out.split('\n').filter(Boolean).length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.on('exit', () => reject(new Error(`sandpit serve exited: ${this.stderr}`)));
    });
    this.lines = out.split('\n').filter(Boolean);
    for (const line of this.lines) {
      const [, name, value] = line.match(/^export (E2B_[A-Z_]+)=(.*)$/);
      process.env[name] = value;
    }
    this.url = process.env.E2B_SANDBOX_URL;
    this.apiKey = process.env.E2B_API_KEY;
    return this;
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

  // Session daemons still running under this state folder.
  liveSessions() {
    return JSON.parse(this.sandpit('session', 'list', '--json')).filter((s) => s.running !== false);
  }

  // SIGTERM, as a service manager stops it; resolves with its exit.
  async stop() {
    if (!this.child || this.child.exitCode !== null) return this.exited;
    this.child.kill('SIGTERM');
    return this.exited;
  }

  async cleanup() {
    await this.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

// A raw request to the server, for what the SDKs never send.
export async function raw(served, pathname, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(served.url + pathname, { method, headers, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
