"""The questionnaire: Haverford's test and whatever questions people add.

Questions are rows, not code. Rewording or retiring one never touches its answers: answers
point at the question's id, and each change is kept in ``question_revisions``.
"""

from __future__ import annotations

import json

import sqlite_utils

from haverford.db.connection import now, write

KINDS = ("yes_no", "number", "count", "rating", "choice", "text")
_JSON_COLUMNS = ("options", "ask_when", "rule")


def _load(row: dict) -> dict:
    out = dict(row)
    for col in _JSON_COLUMNS:
        out[col] = json.loads(row[col]) if row.get(col) else ({} if col == "options" else None)
    out["active"] = bool(row["active"])
    return out


def _dump(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def list_questions(db: sqlite_utils.Database, *, include_retired: bool = False) -> list[dict]:
    """Questions in display order, JSON columns decoded."""
    where = "" if include_retired else "WHERE active = 1"
    return [_load(r) for r in db.query(f"SELECT * FROM questions {where} ORDER BY position, id")]


def get_question(db: sqlite_utils.Database, key: str) -> dict | None:
    """One question by key, retired or not."""
    rows = list(db.query("SELECT * FROM questions WHERE key = ?", [key]))
    return _load(rows[0]) if rows else None


def verdict_question_id(db: sqlite_utils.Database) -> int:
    """The id of the question whose answer is the label (role 'verdict')."""
    return db.execute("SELECT id FROM questions WHERE role = 'verdict' ORDER BY id LIMIT 1").fetchone()[0]


def add_question(db: sqlite_utils.Database, *, key: str, text: str, kind: str, options: dict | None = None,
                 rule: dict | None = None, ask_when: dict | None = None, help: str | None = None) -> int:
    """Append a question at the end of the questionnaire; return its id."""
    stamp = now()
    with write(db):
        position = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM questions").fetchone()[0]
        return db.table("questions").insert({
            "key": key, "text": text, "kind": kind, "options": _dump(options or {}), "position": position,
            "active": 1, "rule": _dump(rule), "ask_when": _dump(ask_when), "help": help,
            "created_at": stamp, "changed_at": stamp}).last_pk or 0


def update_question(db: sqlite_utils.Database, question_id: int, **changes) -> None:
    """Change text, options, rule, ask_when, help or active; the old version goes to the history."""
    allowed = {"text", "options", "rule", "ask_when", "help", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)} of a question")
    values = {k: (_dump(v) if k in _JSON_COLUMNS else v) for k, v in changes.items()}
    if "active" in values:
        values["active"] = int(bool(values["active"]))
    with write(db):
        old = db.table("questions").get(question_id)
        db.table("question_revisions").insert({
            "question_id": question_id, "text": old["text"], "options": old["options"], "rule": old["rule"],
            "ask_when": old["ask_when"], "active": old["active"], "changed_at": old["changed_at"]})
        db.table("questions").update(question_id, {**values, "changed_at": now()})


def move_question(db: sqlite_utils.Database, question_id: int, *, offset: int) -> None:
    """Move a question ``offset`` places up (negative) or down (positive) in the order."""
    with write(db):
        ids = [r[0] for r in db.execute("SELECT id FROM questions ORDER BY position, id")]
        i = ids.index(question_id)
        j = max(0, min(len(ids) - 1, i + offset))
        ids.insert(j, ids.pop(i))
        db.conn.executemany("UPDATE questions SET position = ? WHERE id = ?", enumerate(ids))


def revisions(db: sqlite_utils.Database, question_id: int) -> list[dict]:
    """Earlier versions of a question, oldest first."""
    return list(db.query("SELECT * FROM question_revisions WHERE question_id = ? ORDER BY id", [question_id]))
