"""The schema as an ordered list of migrations; ``PRAGMA user_version`` records how far a file got.

Each migration runs in one transaction together with the version bump, so a database is
always at exactly one version. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import sqlite_utils

from haverford.db.backup import backup_before_migration
from haverford.db.connection import DatabaseError, now, write

SCHEMA_1 = """
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    duration_s REAL NOT NULL,
    orig_sr INTEGER NOT NULL,
    orig_channels INTEGER NOT NULL,
    n_segments INTEGER NOT NULL,
    size_bytes INTEGER,
    source TEXT NOT NULL DEFAULT 'import',
    imported_at TEXT NOT NULL
);
CREATE TABLE segments (
    id INTEGER PRIMARY KEY,
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    UNIQUE (track_id, idx)
);
CREATE TABLE features (
    track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    feature TEXT NOT NULL,
    path TEXT NOT NULL,
    n_segments INTEGER NOT NULL,
    n_bins INTEGER NOT NULL,
    n_frames INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (track_id, feature)
);
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('yes_no', 'number', 'count', 'rating', 'choice', 'text')),
    options TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    role TEXT,
    ask_when TEXT,
    rule TEXT,
    help TEXT,
    created_at TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE question_revisions (
    id INTEGER PRIMARY KEY,
    question_id INTEGER NOT NULL REFERENCES questions(id),
    text TEXT NOT NULL,
    options TEXT NOT NULL,
    rule TEXT,
    ask_when TEXT,
    active INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE answers (
    id INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    question_id INTEGER NOT NULL REFERENCES questions(id),
    labeller TEXT NOT NULL,
    value,  -- no type: keeps ints, floats and text as given
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX answers_current ON answers (segment_id, question_id, labeller, id);
CREATE INDEX answers_by_labeller ON answers (labeller, question_id, segment_id);
CREATE TABLE segment_verdicts (
    segment_id INTEGER PRIMARY KEY REFERENCES segments(id) ON DELETE CASCADE,
    n_labellers INTEGER NOT NULL,
    banger_votes INTEGER NOT NULL,
    not_votes INTEGER NOT NULL,
    verdict TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX segment_verdicts_verdict ON segment_verdicts (verdict);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT,
    preset TEXT NOT NULL,
    feature TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    labels_hash TEXT,
    path TEXT,
    curves TEXT,
    metrics TEXT,
    run_id INTEGER,
    created_by TEXT,
    created_at TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX models_one_active ON models (active) WHERE active = 1;
CREATE TABLE training_runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'train',
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    config TEXT NOT NULL DEFAULT '{}',
    pid INTEGER,
    epoch INTEGER,
    progress TEXT,
    error TEXT,
    model_id INTEGER REFERENCES models(id),
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    heartbeat_at TEXT
);
CREATE TABLE run_metrics (
    run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE splits (
    track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    side TEXT NOT NULL CHECK (side IN ('train', 'validation', 'test')),
    assigned_at TEXT NOT NULL
);
CREATE TABLE predictions (
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    p_banger REAL NOT NULL,
    PRIMARY KEY (model_id, segment_id)
) WITHOUT ROWID;
"""

# Haverford's test (DESIGN.md). ``rule`` drives Haverford's algorithm: ``veto_when`` gives
# "not a banger" outright; ``banger_min``/``banger_max`` are thresholds a banger must meet.
DEFAULT_QUESTIONS = [
    dict(key="bpm", text="How many beats per minute?", kind="number",
         options={"min": 40, "max": 220, "step": 1, "suggest": "tempo"},
         rule={"banger_min": 100, "banger_max": 180}),
    dict(key="drops", text="How many drops?", kind="count", options={"min": 0, "max": 20},
         rule={"banger_min": 0}),
    dict(key="drop_dopeness", text="How dope are the drops?", kind="rating",
         options={"min": 1, "max": 10}, ask_when={"key": "drops", "op": ">", "value": 0},
         rule={"banger_min": 5}),
    dict(key="acoustic", text="Were any acoustic instruments used?", kind="yes_no",
         rule={"veto_when": True}, help="If so, it is not a banger."),
    dict(key="verdict", text="Is it a banger?", kind="choice", role="verdict",
         options={"choices": ["banger", "not_a_banger"]}),
]


def _dump(value):
    return None if value is None else json.dumps(value, sort_keys=True)


def _migration_1(db: sqlite_utils.Database) -> None:
    for statement in SCHEMA_1.split(";"):
        if statement.strip():
            db.execute(statement)
    stamp = now()
    db.table("questions").insert_all(
        {"key": q["key"], "text": q["text"], "kind": q["kind"], "options": _dump(q.get("options", {})),
         "position": i, "active": 1, "role": q.get("role"), "ask_when": _dump(q.get("ask_when")),
         "rule": _dump(q.get("rule")), "help": q.get("help"), "created_at": stamp, "changed_at": stamp}
        for i, q in enumerate(DEFAULT_QUESTIONS)
    )


# Evaluation and review (issue 5): the misclassified list ordered by score within a model, review
# state per (segment, model or cross-check run), and cross-check out-of-fold scores with the
# tracks each fold's model was trained on, so "no segment scored by a model that saw its track"
# can be checked from the database alone.
SCHEMA_2 = """
CREATE INDEX predictions_by_score ON predictions (model_id, p_banger);
CREATE TABLE reviews (
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL DEFAULT 0,   -- the model whose mistake was reviewed (0: none)
    run_id INTEGER NOT NULL DEFAULT 0,     -- the cross-check run whose ranking was reviewed (0: none)
    status TEXT NOT NULL CHECK (status IN ('reviewed')),
    action TEXT,
    reviewer TEXT NOT NULL,
    reviewed_at TEXT NOT NULL,
    PRIMARY KEY (segment_id, model_id, run_id)
);
CREATE INDEX reviews_by_subject ON reviews (model_id, run_id);
CREATE TABLE crosscheck_folds (
    run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
    fold INTEGER NOT NULL,
    track_id INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('train', 'held_out')),
    PRIMARY KEY (run_id, fold, track_id)
) WITHOUT ROWID;
CREATE TABLE crosscheck_scores (
    run_id INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    fold INTEGER NOT NULL,
    label INTEGER NOT NULL,            -- the consensus label when the run started, 1 = banger
    p_banger REAL NOT NULL,            -- out of fold: from the model that held the track out
    self_confidence REAL NOT NULL,     -- p(label), low = likely label error
    is_issue INTEGER NOT NULL,
    PRIMARY KEY (run_id, segment_id)
) WITHOUT ROWID;
CREATE INDEX crosscheck_rank ON crosscheck_scores (run_id, self_confidence);
"""


def _migration_2(db: sqlite_utils.Database) -> None:
    for statement in SCHEMA_2.split(";"):
        if statement.strip():
            db.execute(statement)


def _migration_3(db: sqlite_utils.Database) -> None:
    """A labeller may call a segment ``ambiguous``: it counts as labelled, never as a class."""
    db.execute("ALTER TABLE segment_verdicts ADD COLUMN ambiguous_votes INTEGER NOT NULL DEFAULT 0")
    for row in list(db.query("SELECT id, options FROM questions WHERE role = 'verdict'")):
        options = json.loads(row["options"] or "{}")
        choices = options.get("choices", ["banger", "not_a_banger"])
        if "ambiguous" not in choices:
            options["choices"] = [*choices, "ambiguous"]
            db.execute("UPDATE questions SET options = ? WHERE id = ?", [_dump(options), row["id"]])
    db.execute("""UPDATE segment_verdicts SET ambiguous_votes = (
                      SELECT COUNT(*) FROM answers a WHERE a.segment_id = segment_verdicts.segment_id
                      AND a.value = 'ambiguous' AND a.question_id IN (SELECT id FROM questions WHERE role = 'verdict')
                      AND a.id = (SELECT MAX(b.id) FROM answers b WHERE b.segment_id = a.segment_id
                                  AND b.question_id = a.question_id AND b.labeller = a.labeller))""")


def _model_labels(db: sqlite_utils.Database) -> None:
    """The labels each model was trained and tested against, so every figure can say how many
    verdicts changed since (issue 11: stated freshness)."""
    db.execute("""CREATE TABLE model_labels (
                      model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                      segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
                      side TEXT NOT NULL,
                      verdict TEXT NOT NULL,
                      PRIMARY KEY (model_id, segment_id)
                  ) WITHOUT ROWID""")


# Team server (issue 14): accounts with a role and a growing delay after wrong passwords, the key
# that signs login tokens, and a log of who made every write that has no author column of its own.
SCHEMA_TEAM = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,       -- argon2id, salted, never the password
    role TEXT NOT NULL CHECK (role IN ('labeller', 'admin')),
    disabled_at TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    last_failed_at TEXT,
    token_epoch INTEGER NOT NULL DEFAULT 0,   -- bumped to invalidate every login token of the user
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def _migration_team(db: sqlite_utils.Database) -> None:
    for statement in SCHEMA_TEAM.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO app_secrets (name, value) VALUES ('token_key', ?)", [secrets.token_hex(32)])



def _migration_ingest_silence(db: sqlite_utils.Database) -> None:
    """A segment too quiet to judge is ``silent``: kept (its track's timeline stays whole) but
    left out of labelling queues, training, evaluation and track verdicts (issue 10)."""
    db.execute("ALTER TABLE segments ADD COLUMN silent INTEGER NOT NULL DEFAULT 0")


# Other models and tuning (issue 15): a model row says what kind of model its file holds, so
# scoring and ``predict`` dispatch on it (a ConvNet ``.keras`` file or a scikit-learn pipeline
# stored with skops); tuned presets are kept by name beside the built-in ones.
SCHEMA_MODELS = """
ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'convnet';
CREATE TABLE custom_presets (
    name TEXT PRIMARY KEY,
    preset TEXT NOT NULL,              -- core.presets.Preset as JSON
    source TEXT,                       -- e.g. the Optuna study and trial it came from
    created_by TEXT,
    created_at TEXT NOT NULL
);
"""


def _migration_models(db: sqlite_utils.Database) -> None:
    for statement in SCHEMA_MODELS.split(";"):
        if statement.strip():
            db.execute(statement)


def _migration_musicnn_patch(db: sqlite_utils.Database) -> None:
    """The stored ``musicnn`` embedding is now taken from the middle 1.5 s of a segment instead
    of 3 s (issue 13: the embedding's speed): embeddings stored before are forgotten, so that the
    next Retrain (or ``haverford features --feature musicnn``) computes them all again the same
    way, instead of mixing the two. The files are overwritten then."""
    db.execute("DELETE FROM features WHERE feature = 'musicnn'")


def _migration_corrections(db: sqlite_utils.Database) -> None:
    """A relabel whose reason is 'label was wrong' now sets aside the votes given before it
    (``vocabulary.CONSENSUS_RULE``): where it tied with the import's vote, the segment had no
    verdict. The verdicts of the segments that hold such a correction are decided again."""
    from haverford.db.answers import refresh_verdicts
    from haverford.db.vocabulary import CORRECTION

    ids = [r[0] for r in db.execute("SELECT DISTINCT segment_id FROM answers WHERE note = ?", [CORRECTION])]
    if ids:
        refresh_verdicts(db, ids)


# Append only: a released migration never changes, and never moves.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1, _migration_2, _migration_3,
                                                             _model_labels, _migration_team,
                                                             _migration_ingest_silence, _migration_models,
                                                             _migration_musicnn_patch, _migration_corrections]
SCHEMA_VERSION = len(MIGRATIONS)


def version(db: sqlite_utils.Database) -> int:
    """The schema version the file is at (0 for a new file)."""
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> int:
    """Bring ``db`` up to ``SCHEMA_VERSION``; return how many migrations ran.

    A database file that already holds a schema is first copied to ``backups/`` beside it
    (``db.backup.backup_before_migration``), and the copy is kept.
    """
    current = version(db)
    if current > SCHEMA_VERSION:
        raise DatabaseError(f"database schema version {current} is newer than this Haverford "
                            f"({SCHEMA_VERSION}); upgrade Haverford")
    if 0 < current < SCHEMA_VERSION:
        backup_before_migration(db, current)
    for number in range(current + 1, SCHEMA_VERSION + 1):
        with write(db):
            if version(db) >= number:  # another process migrated meanwhile
                continue
            MIGRATIONS[number - 1](db)
            db.execute(f"PRAGMA user_version = {int(number)}")
    return SCHEMA_VERSION - current
