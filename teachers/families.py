"""Model families for students: the training template, the turn end, the stop tokens and the pad token.

Why: real bases differ from the factory's own tokenizer (issue #14). Qwen2.5 base ends with
`<|endoftext|>` but its turns end with `<|im_end|>`; Llama-3 has no ChatML tokens at all; SmolLM2 and
R1-Distill pad with their EOS, so a collator masks the turn end out of the loss and the student never
stops (open-r1 #492). Swapping in a foreign ChatML template or adding a pad token (which resizes the
vocabulary and breaks merges with the base) are the bugs this module replaces.

`prepare_tokenizer` detects the family from the tokenizer (conventions.yaml `detect`) and then:
- wraps the family's OWN template so the last assistant turn sits in `{% generation %}` (TRL's
  `assistant_only_loss`), the turn end included. The training text is, by construction,
  `teacher prompt (with the template's <think> prefill) + completion after the prefill + turn end`, so
  the teacher's prompt, the student's training text and the eval's rendering are one string;
- sets `eos_token` to the turn end (the token the student learns to emit);
- reuses an existing token as pad when pad is missing or equals the turn end.
`stop_token_ids` gives generation_config.eos_token_id = [turn end, the family's other stops].
An unknown tokenizer with a chat template gets the `generic` family, logged; without one, an error.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from teachers.conventions import HERE, THINK_OPEN, Convention, conventions_in_order, get_convention

log = logging.getLogger(__name__)
SENTINEL = "\x00FACTORY-SENTINEL\x00"
_GENERATION = re.compile(r"\{%-?\s*generation\s*-?%\}")
_PROBE = [{"role": "user", "content": "2 + 2?"}]


@dataclass(frozen=True)
class TurnFacts:
    """What a family's template does around an assistant turn (read off the template itself)."""

    prefill: str  # text the generation prompt adds after the assistant header ("<think>\n" for R1)
    turn_end: str  # the token closing the assistant turn
    suffix: str  # text the template writes after the turn end ("\n" for ChatML)


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and bool(_GENERATION.search(template))


# ---------------------------------------------------------------- detection
def _matches(conv: Convention, vocab: dict, template: str) -> bool:
    det = conv.detect
    if det is None or not all(t in vocab for t in det.tokens):
        return False
    return not det.template_has or any(s in template for s in det.template_has)


def detect_family(tokenizer, source: str = "model") -> Convention:
    """The first family in conventions.yaml whose `detect` rule matches; `generic` (logged) when none does
    but the tokenizer has a chat template; a one-line error when it has none."""
    vocab = tokenizer.get_vocab()
    template = tokenizer.chat_template or ""
    for conv in conventions_in_order():
        if _matches(conv, vocab, template):
            return conv
    if not template:
        known = ", ".join(c.name for c in conventions_in_order() if c.detect)
        raise ValueError(f"{source}: tokenizer has no chat template and matches no known family ({known}); "
                         "save a chat template with the model")
    log.warning("%s: tokenizer matches no known family; using 'generic' (turn end read off its own template)", source)
    return get_convention("generic")


# ---------------------------------------------------------------- the family's own template
def family_template(tokenizer, conv: Convention, source: str = "model") -> str:
    """The template to train with: the tokenizer's own, else the family's `base_template` file."""
    if tokenizer.chat_template:
        return tokenizer.chat_template
    if conv.base_template:
        return (HERE / conv.base_template).read_text(encoding="utf-8")
    raise ValueError(f"{source}: tokenizer has no chat template and family '{conv.name}' ships none")


def _render(tokenizer, template: str, messages: list[dict], generation_prompt: bool, kwargs: dict) -> str:
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=generation_prompt, **kwargs)


def turn_facts(tokenizer, template: str, conv: Convention) -> TurnFacts:
    """Prefill, turn end and suffix, by rendering a probe conversation with the family template."""
    kwargs = conv.template_kwargs
    history = _render(tokenizer, template, _PROBE, False, kwargs)
    prompt = _render(tokenizer, template, _PROBE, True, kwargs)
    tail = prompt[len(history):] if prompt.startswith(history) else ""
    prefill = tail[tail.index(THINK_OPEN):] if THINK_OPEN in tail else ""
    full = _render(tokenizer, template, _PROBE + [{"role": "assistant", "content": SENTINEL}], False, kwargs)
    after = full.split(SENTINEL, 1)[1] if SENTINEL in full else ""
    turn_end = conv.turn_end or _first_special(tokenizer, after)
    if not turn_end or not after.startswith(turn_end):
        raise ValueError(f"family '{conv.name}': its template does not close an assistant turn with "
                         f"{turn_end or 'a special token'} (renders {after[:40]!r} after the answer)")
    return TurnFacts(prefill=prefill, turn_end=turn_end, suffix=after[len(turn_end):])


def _first_special(tokenizer, text: str) -> str | None:
    specials = sorted(set(tokenizer.all_special_tokens) | set(tokenizer.get_added_vocab()), key=len, reverse=True)
    return next((t for t in specials if text.startswith(t)), None)


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def training_template(template: str, facts: TurnFacts) -> str:
    """The family template with the LAST assistant turn wrapped in `{% generation %}`.

    Everything before that turn is the family template's own generation prompt (prefill included);
    the turn is the assistant content after the prefill plus the turn end; whatever follows is the
    family template's own text. Earlier turns and prompts without a final assistant turn render exactly
    as the family template renders them."""
    strip = facts.prefill.rstrip("\n")
    return (
        "{% macro __family(messages, add_generation_prompt) %}" + template + "{% endmacro %}"
        "{% set __last = namespace(i=-1) %}"
        "{% for m in messages %}{% if m['role'] == 'assistant' %}{% set __last.i = loop.index0 %}{% endif %}{% endfor %}"
        "{% if __last.i < 0 %}{{ __family(messages, add_generation_prompt is defined and add_generation_prompt) }}"
        "{% else %}"
        "{% set __upto = __family(messages[:__last.i + 1], false) %}"
        "{% set __full = __family(messages, add_generation_prompt is defined and add_generation_prompt) %}"
        "{% if not __full.startswith(__upto) %}{{ __full }}{% else %}"
        "{% set __text = messages[__last.i]['content'] %}"
        f"{{% if {_literal(strip)} and __text.startswith({_literal(strip)}) %}}"
        f"{{% set __text = __text[{len(strip)}:] %}}"
        f"{{% if {_literal(facts.prefill[len(strip):])} and __text.startswith('\\n') %}}"
        "{% set __text = __text[1:] %}{% endif %}{% endif %}"
        "{{ __family(messages[:__last.i], true) }}"
        f"{{% generation %}}{{{{ __text }}}}{{{{ {_literal(facts.turn_end)} }}}}{{% endgeneration %}}"
        f"{{{{ {_literal(facts.suffix)} }}}}{{{{ __full[__upto|length:] }}}}"
        "{% endif %}{% endif %}"
    )


# ---------------------------------------------------------------- tokens
def pick_pad(tokenizer, conv: Convention, turn_end: str) -> str | None:
    """The pad token to use: the tokenizer's own unless missing or equal to the turn end, else the
    first of the family's `pad_candidates` in the vocab, else any reserved/pad/unused added token."""
    vocab = tokenizer.get_vocab()
    current = tokenizer.pad_token
    if current and current != turn_end and current in vocab:
        return current
    for cand in conv.pad_candidates:
        if cand in vocab and cand != turn_end:
            return cand
    for tok in sorted(tokenizer.get_added_vocab(), key=vocab.get):
        if tok != turn_end and re.search(r"pad|reserved|unused", tok, re.I):
            return tok
    return None


def prepare_tokenizer(tokenizer, source: str = "model"):
    """Make a loaded tokenizer train and stop like its family (see the module docstring); returns
    (tokenizer, family). Never adds tokens; when no pad can be reused, pad stays as it is and
    `needs_new_pad(tokenizer)` says so."""
    conv = detect_family(tokenizer, source)
    template = family_template(tokenizer, conv, source)
    facts = turn_facts(tokenizer, template, conv)
    # a template with markers is already a training template (a saved student, the micro tokenizer)
    tokenizer.chat_template = template if has_generation_markers(template) else training_template(template, facts)
    tokenizer.eos_token = facts.turn_end
    pad = pick_pad(tokenizer, conv, facts.turn_end)
    if pad is not None:
        tokenizer.pad_token = pad
    log.info("%s: family %s, turn end %s, pad %s, prefill %r", source, conv.name, facts.turn_end,
             tokenizer.pad_token, facts.prefill)
    return tokenizer, conv


def needs_new_pad(tokenizer) -> bool:
    return tokenizer.pad_token is None or tokenizer.pad_token_id == tokenizer.eos_token_id


def stop_token_ids(tokenizer, conv: Convention | None = None) -> list[int]:
    """[turn end, eos, the family's other stop tokens in the vocab], without repeats. For a prepared
    tokenizer eos is the turn end; a raw base (Qwen2.5 base: eos <|endoftext|>) still stops on its turn end."""
    conv = conv or detect_family(tokenizer)
    vocab = tokenizer.get_vocab()
    turn_end = vocab.get(conv.turn_end) if conv.turn_end else None
    ids = [turn_end, tokenizer.eos_token_id] + [vocab[t] for t in conv.stop_tokens if t in vocab]
    return list(dict.fromkeys(i for i in ids if i is not None))


def stop_strings(tokenizer, conv: Convention | None = None) -> list[str]:
    """The same stops as text, for lm-eval's `until`."""
    return [tokenizer.convert_ids_to_tokens(i) for i in stop_token_ids(tokenizer, conv)]
