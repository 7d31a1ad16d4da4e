"""TypeScript: cells run in the session's Node.js kernel after esbuild strips their types."""
import json
import re
import shutil

import pytest

from conftest import CODE_FAILED, POLICY, SUCCESS, TIMED_OUT

pytestmark = pytest.mark.skipif(shutil.which("esbuild") is None, reason="esbuild is not installed (scripts/setup)")


@pytest.mark.parametrize("language", ["typescript", "ts"])
def test_exec_runs_a_typescript_cell(sp, language):
    proc, result = sp.exec_json("const x: number = 1; x + 1", language=language, check=SUCCESS)
    assert result["language"] == "typescript"
    assert result["result"] == {"text/plain": "2"}


@pytest.mark.parametrize("name", ["job.ts", "job.mts", "job.cts"])
def test_file_language_comes_from_its_extension(sp, tmp_path, name):
    path = tmp_path / name
    path.write_text("interface Job { name: string }\nconst job: Job = { name: 'ts file' };\nconsole.log(job.name);\n")
    assert sp.run("exec", "-w", str(sp.workspace), str(path), check=SUCCESS).stdout == "ts file\n"


def test_typescript_and_javascript_share_the_kernels_globals(sp):
    sp.exec("let fromTs: string[] = ['a'];\nfunction twice(n: number): number { return n * 2 }", language="ts", check=SUCCESS)
    assert sp.exec("fromTs.concat('b').length + twice(20)", language="js", check=SUCCESS).stdout == "42\n"
    sp.exec("const fromJs = { n: 21 }", language="js", check=SUCCESS)
    assert sp.exec("const r: number = twice(fromJs.n); r", language="ts", check=SUCCESS).stdout == "42\n"
    info = json.loads(sp.run("session", "info", "-w", str(sp.workspace), "--json", check=SUCCESS).stdout)
    assert [k["language"] for k in info["kernels"]] == ["javascript"]  # one kernel for both


def test_typescript_features_run(sp):
    code = """import type { Stats } from 'fs';
type Point = { x: number; y: number };
interface Named { name: string }
enum Color { Red, Green = 5, Blue }
const enum Flag { On = 1 }
namespace Geometry {
  export const origin: Point = { x: 0, y: 0 };
  export function norm(p: Point): number { return Math.hypot(p.x, p.y); }
}
function sealed(target: Function) { (target as any).sealedBy = 'decorator'; }
function logged(_t: object, key: string, d: PropertyDescriptor) { const f = d.value; d.value = function (...a: any[]) { return `${key}:${f.apply(this, a)}`; }; }
@sealed
class Greeter implements Named {
  constructor(public name: string, private readonly greeting = 'hi') {}
  @logged greet(): string { return `${this.greeting} ${this.name}`; }
}
const config = { port: 8080, host: 'localhost' } satisfies Record<string, string | number>;
let stats: Stats | undefined;
const abstractValue = <T,>(v: T): T => v;
[Color.Green, Color[6], Flag.On, Geometry.norm({ x: 3, y: 4 }), (Greeter as any).sealedBy,
 new Greeter('ts').greet(), config.port, stats, abstractValue<string>('generic')]"""
    proc = sp.exec(code, language="ts", check=SUCCESS)
    assert proc.stdout == "[\n  5,\n  'Blue',\n  1,\n  5,\n  'decorator',\n  'greet:hi ts',\n  8080,\n  undefined,\n  'generic'\n]\n"
    assert sp.exec("[Color.Red, Geometry.origin.x]", language="js", check=SUCCESS).stdout == "[ 0, 0 ]\n"


def test_top_level_await_and_declarations_persist_and_a_cell_can_run_again(sp):
    assert sp.exec("const data: number[] = await Promise.resolve([1, 2, 3]);\ndata.length", language="ts", check=SUCCESS).stdout == "3\n"
    assert sp.exec("data.map((x: number) => x * 2)", language="ts", check=SUCCESS).stdout == "[ 2, 4, 6 ]\n"
    for value in (1, 2):
        code = f"const c: number = {value};\nlet l: number = {value};\nclass K {{ v(): number {{ return {value} }} }}\nc + l + new K().v()"
        assert sp.exec(code, language="ts", check=SUCCESS).stdout == f"{3 * value}\n"


def test_a_runtime_error_points_at_the_typescript_lines(sp):
    code = "type T = number;\n\ninterface I {\n  a: T;\n}\nfunction boom(x: T): T {\n  throw new Error('boom ' + x);\n}\nboom(1 satisfies T);\n"
    proc, result = sp.exec_json(code, language="ts", check=CODE_FAILED)
    tb = result["error"]["traceback"]
    assert result["error"]["name"] == "Error" and result["error"]["value"] == "boom 1"
    assert re.search(r"^<cell \d+>:7\n  throw new Error\('boom ' \+ x\);\n  \^$", tb, re.MULTILINE), tb
    assert re.search(r"at boom \(<cell \d+>:7:9\)", tb) and re.search(r"at <cell \d+>:9:1$", tb, re.MULTILINE), tb
    assert "sandpit-driver" not in tb
    # A function an earlier TypeScript cell defined keeps its lines, called from JavaScript too.
    proc, result = sp.exec_json("\n\nboom(2)", language="js", check=CODE_FAILED)
    assert re.search(r"at boom \(<cell \d+>:7:9\)\n +at <cell \d+>:3:1", result["error"]["traceback"]), result["error"]


def test_an_async_error_points_at_the_typescript_lines(sp):
    code = "async function late(): Promise<void> {\n  await null;\n  throw new TypeError('late');\n}\nawait late();"
    proc, result = sp.exec_json(code, language="ts", check=CODE_FAILED)
    assert result["error"]["name"] == "TypeError"
    assert re.search(r"at late \(<cell \d+>:3:9\)\n +at async <cell \d+>:5:", result["error"]["traceback"]), result["error"]


def test_a_syntax_error_shows_the_typescript_line(sp, tmp_path):
    proc, result = sp.exec_json("let a: number = 1;\nconst b: = 2;", language="ts", check=CODE_FAILED)
    assert result["error"]["name"] == "SyntaxError" and result["error"]["value"] == 'Unexpected "="'
    assert re.match(r"<cell \d+>:2\nconst b: = 2;\n {9}\^\n\nSyntaxError: Unexpected \"=\"$", result["error"]["traceback"]), result["error"]
    assert result["stderr"] == result["error"]["traceback"] + "\n"
    path = tmp_path / "broken.ts"
    path.write_text("const ok = 1;\n\nconst name: string = 'é' as;\n")
    proc = sp.run("exec", "-w", str(sp.workspace), str(path), check=CODE_FAILED)
    assert proc.stderr.startswith(f"{path}:3\nconst name: string = 'é' as;\n{' ' * 27}^\n\nSyntaxError: "), proc.stderr
    # The kernel lives on: the failed cell did not take the session's state.
    assert "ReferenceError: ok is not defined" in sp.exec("ok", language="ts", check=CODE_FAILED).stderr


def test_fresh_runs_typescript_and_leaves_nothing_behind(sp, tmp_path):
    proc, result = sp.exec_json("const x: number = 1; x + 1", "--fresh", language="ts", check=SUCCESS)
    assert result["result"] == {"text/plain": "2"}
    path = tmp_path / "job.ts"
    path.write_text("const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));\nawait wait(20);\nthrow new Error('after ' + 20)\n")
    proc = sp.run("exec", "--fresh", "-w", str(sp.workspace), str(path), check=CODE_FAILED)
    assert re.search(rf"^Error: after 20\n +at {re.escape(str(path))}:3:7", proc.stderr, re.MULTILINE), proc.stderr
    assert not list((sp.state / "sandpit" / "workspaces").glob("*/socket"))  # no session was started


def test_an_interrupted_typescript_cell_keeps_the_state(sp):
    sp.exec("let kept: string = 'kept'", language="ts", check=SUCCESS)
    sp.exec("while (true) {}", "--timeout", "1s", language="ts", check=TIMED_OUT)
    assert sp.exec("kept", language="ts", check=SUCCESS).stdout == "'kept'\n"
    assert "esbuild --service" in sp.shell("ps -e -o args=", check=SUCCESS).stdout


def test_typescript_cells_survive_session_background_kill(sp):
    # "kill" stops every process but the kernels after each execution, esbuild's service too.
    sp.configure('[session]\nbackground = "kill"\n')
    for n in range(3):
        assert sp.exec(f"const n: number = {n}; n * 2", language="ts", check=SUCCESS).stdout == f"{n * 2}\n"


def test_typescript_is_screened_with_the_javascript_patterns(sp):
    sp.configure('[policy]\nmode = "block"\n')
    proc = sp.exec("const cp: any = require('child_process'); cp.execSync('id')", language="ts", check=POLICY)
    assert "require of fs or child_process" in proc.stderr
    sp.configure('[policy]\nmode = "block"\n[[policy.patterns]]\nlanguages = ["typescript"]\n'
                 'regex = "\\\\bany\\\\b"\nreason = "no any"\n')
    assert "no any" in sp.exec("const v: any = 1", language="ts", check=POLICY).stderr
    assert sp.exec("require('child_process').execSync('true'); 1", language="ts", check=SUCCESS).stdout == "1\n"
    sp.exec("const v: any = 1", language="js", check=CODE_FAILED)  # not screened as JavaScript: a SyntaxError


def test_stats_and_audit_name_typescript(sp):
    sp.exec("1 as number", language="ts", check=SUCCESS)
    sp.exec("throw new Error('x' as string)", language="ts", check=CODE_FAILED)
    assert [r["language"] for r in sp.audit_records() if r.get("language")] == ["typescript", "typescript"]
    stats = json.loads(sp.run("stats", "-l", "ts", "--json", check=SUCCESS).stdout)
    assert stats["total"]["executions"] == 2 and stats["total"]["successes"] == 1
    assert [l["language"] for l in stats["users"][0]["languages"]] == ["typescript"]
