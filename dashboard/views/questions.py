"""Questions page: add, reword, reorder and retire questions; edit Haverford's algorithm's rules.

Answers point at a question's id, so rewording or retiring never loses or reassigns them;
every change keeps the previous version in ``question_revisions``.
"""

import pandas as pd
import streamlit as st

from haverford.core import questionnaire
from haverford.core.errors import HaverfordError
from haverford.dashboard.context import connect

KIND_NAMES = {"yes_no": "yes / no", "number": "number", "count": "count", "rating": "rating",
              "choice": "choice", "text": "free text"}
OPS = [">", ">=", "<", "<=", "==", "!="]


def _run(action, *args, **kwargs) -> None:
    """Callback wrapper: run a core action, keep a one-line error for the next rerun."""
    try:
        action(connect(), *args, **kwargs)
        st.session_state["questions_flash"] = "Saved."
    except (HaverfordError, ValueError) as exc:
        st.session_state["questions_error"] = str(exc)


def overview(questions: list[dict]) -> None:
    rows = [{"#": i + 1, "key": q["key"], "question": q["text"], "kind": KIND_NAMES[q["kind"]],
             "asked when": _cond(q.get("ask_when")), "rule": _rule_text(q.get("rule")),
             "active": q["active"]} for i, q in enumerate(questions)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _cond(cond: dict | None) -> str:
    return f"{cond['key']} {cond.get('op', '==')} {cond['value']}" if cond else "always"


def _rule_text(rule: dict | None) -> str:
    if not rule:
        return ""
    parts = []
    if "veto_when" in rule:
        parts.append(f"not a banger when {rule['veto_when']}")
    if rule.get("banger_min") is not None:
        parts.append(f"banger needs ≥ {rule['banger_min']}")
    if rule.get("banger_max") is not None:
        parts.append(f"banger needs ≤ {rule['banger_max']}")
    return "; ".join(parts)


def edit_question(q: dict, keys: list[str]) -> None:
    """The edit form of one question: text, help, options, condition, rule, active."""
    prefix = f"questions_{q['id']}"
    with st.form(f"{prefix}_form"):
        text = st.text_input("Question", value=q["text"], key=f"{prefix}_text", max_chars=200)
        help_ = st.text_input("Help", value=q.get("help") or "", key=f"{prefix}_help", max_chars=300)
        options = _options_inputs(q, prefix)
        ask_when = _condition_inputs(q, prefix, [k for k in keys if k != q["key"]])
        rule = _rule_inputs(q, prefix)
        active = st.checkbox("Active (asked when labelling)", value=q["active"], key=f"{prefix}_active")
        if st.form_submit_button("Save changes"):
            _run(questionnaire.update_question, q["id"], text=text.strip() or q["text"], help=help_ or None,
                 options=options, ask_when=ask_when, rule=rule, active=active)
            st.rerun()
    up, down, _ = st.columns([1, 1, 4])
    up.button("Move up", key=f"{prefix}_up", on_click=_run, args=(questionnaire.move_question, q["id"]),
              kwargs={"offset": -1})
    down.button("Move down", key=f"{prefix}_down", on_click=_run, args=(questionnaire.move_question, q["id"]),
                kwargs={"offset": 1})
    history = questionnaire.revisions(connect(), q["id"])
    if history:
        st.caption(f"{len(history)} earlier version(s):")
        st.dataframe(pd.DataFrame([questionnaire.describe_revision(r) for r in history]),
                     hide_index=True, width="stretch")


def _options_inputs(q: dict, prefix: str) -> dict:
    opts = dict(q["options"])
    if q["kind"] in ("number", "count", "rating"):
        a, b = st.columns(2)
        opts["min"] = a.number_input("Minimum", value=float(opts.get("min", 0)), key=f"{prefix}_min")
        opts["max"] = b.number_input("Maximum", value=float(opts.get("max", 10)), key=f"{prefix}_max")
    elif q["kind"] == "choice" and q.get("role") != "verdict":
        text = st.text_area("Choices, one per line", value="\n".join(opts.get("choices", [])), key=f"{prefix}_choices")
        opts["choices"] = [c.strip() for c in text.splitlines() if c.strip()]
    return opts


def _condition_inputs(q: dict, prefix: str, other_keys: list[str]) -> dict | None:
    cond = q.get("ask_when") or {}
    choices = ["always"] + other_keys
    a, b, c = st.columns([2, 1, 1])
    key = a.selectbox("Ask only when", choices, index=choices.index(cond["key"]) if cond.get("key") in choices else 0,
                      key=f"{prefix}_cond_key")
    op = b.selectbox("is", OPS, index=OPS.index(cond.get("op", ">")), key=f"{prefix}_cond_op")
    value = c.number_input("value", value=float(cond.get("value", 0)), key=f"{prefix}_cond_value")
    return None if key == "always" else {"key": key, "op": op, "value": value}


def _rule_inputs(q: dict, prefix: str) -> dict | None:
    """Haverford's algorithm's rule for this question: a veto or thresholds."""
    if q.get("role") == "verdict" or q["kind"] == "text":
        return q.get("rule")
    rule = dict(q.get("rule") or {})
    st.markdown("**Haverford's algorithm**")
    if q["kind"] in ("yes_no", "choice"):
        options = {"no rule": None, "yes → not a banger": True, "no → not a banger": False}
        if q["kind"] == "choice":
            options = {"no rule": None, **{f"{c} → not a banger": c for c in q["options"].get("choices", [])}}
        names = list(options)
        current = next((n for n, v in options.items() if "veto_when" in rule and v == rule["veto_when"]), "no rule")
        picked = st.selectbox("Veto", names, index=names.index(current), key=f"{prefix}_veto")
        return None if options[picked] is None else {"veto_when": options[picked]}
    a, b = st.columns(2)
    lo = a.number_input("A banger needs at least (blank: no minimum)", value=_num(rule.get("banger_min")),
                        key=f"{prefix}_rule_min")
    hi = b.number_input("A banger needs at most (blank: no maximum)", value=_num(rule.get("banger_max")),
                        key=f"{prefix}_rule_max")
    out = {k: v for k, v in (("banger_min", lo), ("banger_max", hi)) if v is not None}
    return out or None


def _num(value) -> float | None:
    return None if value is None else float(value)


ADD_FIELDS = ("questions_add_key", "questions_add_text", "questions_add_kind", "questions_add_min",
              "questions_add_max", "questions_add_choices")


def add_form(db) -> None:
    """Add a question at the end of the questionnaire."""
    with st.form("questions_add"):  # a refused question keeps what was typed; an added one clears it
        key = st.text_input("Key (lower case, e.g. `vocals`)", max_chars=40, key="questions_add_key")
        text = st.text_input("Question", max_chars=200, key="questions_add_text")
        kind = st.selectbox("Kind", list(KIND_NAMES), format_func=KIND_NAMES.get, key="questions_add_kind")
        a, b = st.columns(2)
        lo = a.number_input("Minimum (number, count, rating)", value=None, key="questions_add_min")
        hi = b.number_input("Maximum (number, count, rating)", value=None, key="questions_add_max")
        choices = st.text_area("Choices, one per line (choice)", key="questions_add_choices")
        if st.form_submit_button("Add question"):
            _add(db, key.strip(), text.strip(), kind, lo, hi, choices.splitlines())


def _add(db, key: str, text: str, kind: str, lo, hi, choices: list[str]) -> None:
    try:
        questionnaire.add_question(db, key=key, text=text, kind=kind, lo=lo, hi=hi, choices=choices)
    except HaverfordError as exc:
        st.error(str(exc))
        return
    st.session_state["questions_flash"] = f"Added question {key}."
    for field in ADD_FIELDS:
        st.session_state.pop(field, None)
    st.rerun()  # the overview above shows the new question


def main() -> None:
    st.title("Questions")
    st.caption("Haverford's test, as data. Rewording or retiring a question keeps every answer already "
               "given; each change is kept as a revision.")
    db = connect()
    for kind, show in (("questions_flash", st.success), ("questions_error", st.error)):
        if st.session_state.get(kind):
            show(st.session_state.pop(kind))
    questions = questionnaire.list_questions(db, include_retired=True)
    overview(questions)
    st.subheader("Edit a question")
    keys = [q["key"] for q in questions]
    picked = st.selectbox("Question", keys, key="questions_pick",
                          format_func=lambda k: next(q["text"] for q in questions if q["key"] == k))
    if picked:
        edit_question(next(q for q in questions if q["key"] == picked), keys)
    st.subheader("Add a question")
    add_form(db)


main()
