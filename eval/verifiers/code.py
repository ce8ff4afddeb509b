"""Code verifier: run the answer's program against the prompt's tests in the sandbox (eval/verifiers/sandbox.py).

The program is the last fenced code block of the answer (```python ... ```), else the whole answer.
`gold` (a dict, or its JSON string) takes the shapes of the public code sets:
- HumanEval / MBPP: `{"test": "def check(candidate): ...", "entry_point": "f"}` or `{"test_list": ["assert ..."]}`;
- APPS / TACO `input_output`: `{"inputs": [...], "outputs": [...]}` (stdin/stdout) or with `"fn_name"`
  (call tests: inputs are argument lists); a raw row's `{"input_output": "<json>"}` is unwrapped;
- LiveCodeBench: a list of `{"input": str, "output": str, "testtype": "stdin" | "functional"}`; functional
  tests need the function name in `prompt["metadata"]["func_name"]` (LCB's metadata), one JSON argument per
  input line. A `class Solution` method of that name is called when the program defines one (LeetCode).
stdin/stdout outputs are compared token by token per line (trailing whitespace and blank lines ignored).
Each stdin test runs in its own sandboxed process; assertion and call tests run in one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from eval.verifiers.sandbox import Limits, RunResult, run_python

VERIFIER = "code"
_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_RESULT_MARK = "__FACTORY_CALL_RESULTS__"

_CALL_HARNESS = """

def __factory_run_calls():
    import json
    cases = json.loads({cases!r})
    fn_name = {fn_name!r}
    target = globals().get("Solution")
    fn = getattr(target(), fn_name) if target is not None and hasattr(target, fn_name) else globals()[fn_name]
    passed = 0
    for args, expected in cases:
        got = fn(*args)
        if json.loads(json.dumps(got, default=list)) != expected:
            break
        passed += 1
    print({mark!r}, passed, len(cases))

__factory_run_calls()
"""


@dataclass
class CodeTests:
    kind: str  # "script" (assertions appended) | "calls" | "stdio"
    script: str = ""
    fn_name: str = ""
    calls: list = field(default_factory=list)  # [[args, expected], ...]
    stdio: list = field(default_factory=list)  # [(stdin, expected stdout), ...]


def extract_program(answer: str) -> str:
    blocks = _FENCE.findall(answer)
    return (blocks[-1] if blocks else answer).strip()


def parse_tests(gold, metadata: dict | None = None) -> CodeTests:
    """Normalize a code prompt's `gold` into CodeTests; ValueError naming the problem for a shape we do not know."""
    if isinstance(gold, str):
        try:
            gold = json.loads(gold)
        except json.JSONDecodeError:
            raise ValueError("code prompt 'gold' is a string but not JSON tests") from None
    if isinstance(gold, dict) and "input_output" in gold:
        io = gold["input_output"]
        gold = json.loads(io) if isinstance(io, str) else io
    if isinstance(gold, list):
        return _livecodebench_tests(gold, (metadata or {}).get("func_name"))
    if not isinstance(gold, dict):
        raise ValueError(f"code prompt 'gold' must be a dict or list of tests, got {type(gold).__name__}")
    if "test" in gold and "entry_point" in gold:
        return CodeTests("script", script=f"{gold['test']}\n\ncheck({gold['entry_point']})\n")
    if "test_list" in gold:
        setup = gold.get("test_setup_code", "").splitlines()
        return CodeTests("script", script="\n".join([*setup, *gold["test_list"]]))
    if "inputs" in gold and "outputs" in gold:
        if gold.get("fn_name"):
            calls = [[a if isinstance(a, list) else [a], _unwrap(o)] for a, o in zip(gold["inputs"], gold["outputs"])]
            return CodeTests("calls", fn_name=gold["fn_name"], calls=calls)
        return CodeTests("stdio", stdio=[(_text(i), _text(o)) for i, o in zip(gold["inputs"], gold["outputs"])])
    raise ValueError(f"code prompt 'gold' has no known test shape (keys: {sorted(gold)})")


def _livecodebench_tests(cases: list, func_name: str | None) -> CodeTests:
    if cases and all(c.get("testtype") == "functional" for c in cases):
        if not func_name:
            raise ValueError("functional LiveCodeBench tests need prompt metadata 'func_name'")
        calls = [[[json.loads(line) for line in c["input"].splitlines() if line.strip()], json.loads(c["output"])]
                 for c in cases]
        return CodeTests("calls", fn_name=func_name, calls=calls)
    return CodeTests("stdio", stdio=[(c["input"], c["output"]) for c in cases])


def _unwrap(output):
    # APPS stores call outputs wrapped in a one-element list.
    return output[0] if isinstance(output, list) and len(output) == 1 else output


def _text(value) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value)


def same_output(got: str, expected: str) -> bool:
    def tokens(text: str) -> list[list[str]]:
        lines = [line.split() for line in text.strip().splitlines()]
        return [line for line in lines if line]

    return tokens(got) == tokens(expected)


def judge_code(answer: str, prompt: dict, timeout_s: float = 10.0, memory_mb: int = 1024) -> dict:
    """Verdict for a code sample: correct iff every test passes in the sandbox."""
    program = extract_program(answer)
    if not program:
        return _verdict(False, "no program")
    tests = parse_tests(prompt.get("gold"), prompt.get("metadata"))
    limits = Limits(wall_s=timeout_s, cpu_s=timeout_s, memory_mb=memory_mb)
    if tests.kind == "stdio":
        return _judge_stdio(program, tests.stdio, limits)
    if tests.kind == "calls":
        harness = _CALL_HARNESS.format(cases=json.dumps(tests.calls), fn_name=tests.fn_name, mark=_RESULT_MARK)
        return _judge_calls(run_python(program + "\n" + harness, limits=limits), len(tests.calls))
    result = run_python(program + "\n\n" + tests.script, limits=limits)
    return _verdict(True, "tests passed") if result.status == "ok" else _failure(result, "tests failed")


def _judge_stdio(program: str, cases: list, limits: Limits) -> dict:
    for i, (stdin, expected) in enumerate(cases):
        result = run_python(program, stdin=stdin, limits=limits)
        if result.status != "ok":
            return _failure(result, f"test {i} failed")
        if not same_output(result.stdout, expected):
            return _verdict(False, f"test {i}: wrong output")
    return _verdict(True, f"{len(cases)} tests passed")


def _judge_calls(result: RunResult, n_cases: int) -> dict:
    if result.status != "ok":
        return _failure(result, "tests failed")
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(_RESULT_MARK):
            passed = int(line.split()[1])
            return _verdict(passed == n_cases, f"{passed}/{n_cases} tests passed")
    return _verdict(False, "no test result (program exited early)")


def _failure(result: RunResult, what: str) -> dict:
    if result.status != "error":
        return _verdict(False, result.status)
    last = (result.stderr.strip().splitlines() or [""])[-1][:200]
    return _verdict(False, f"{what}: {last}" if last else what)


def _verdict(correct: bool | None, reason: str) -> dict:
    return {"correct": correct, "reason": reason, "verifier": VERIFIER}
