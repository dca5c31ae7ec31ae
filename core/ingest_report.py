"""What an ingest did, as the CLI's JSON reports it: counts, and the files skipped, failed,
truncated, moved or in conflict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from haverford.core import audio

SAME_CONTENT = "already in the library (same content)"
CONFLICT = ("the same content is under both banger/ and not_a_banger/: imported once, unlabelled; "
            "label it in the dashboard")


def conflict_with_library(existing: set[str], label: str) -> str:
    """The conflict reason for known content that an earlier import labelled otherwise."""
    return (f"already in the library, where an earlier import labelled it {' and '.join(sorted(existing))}; "
            f"here it is under {label}/: its labels were left as they were; review it in the dashboard")


@dataclass
class IngestReport:
    """What an ingest did, as the CLI's JSON reports it.

    ``truncated``: files that stopped decoding part way, imported with what decoded;
    ``moved``: known files found at a new place whose old file is gone (path updated);
    ``conflicts``: the same content under both ``banger/`` and ``not_a_banger/``.
    """

    tracks_added: int = 0
    segments_added: int = 0
    skipped: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    silent_segments: int = 0
    truncated: list[dict] = field(default_factory=list)
    moved: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)
    known: int = 0  # files found already in the library

    def to_json(self) -> dict:
        return asdict(self)

    def add_track(self, track_id: int, result: dict, *, conflict: bool) -> None:
        """Count a stored track (``analyse.analyse_file``'s result), its truncation and conflict."""
        track = result["track"]
        path = audio.display_path(track["path"])
        self.tracks_added += 1
        self.segments_added += track["n_segments"]
        self.silent_segments += sum(result["silent"])
        self.audio_seconds += track["duration_s"]
        self.track_ids.append(track_id)
        if result["truncated"]:
            self.truncated.append({"path": path, "reason": result["truncated"],
                                   "decoded_s": round(track["duration_s"], 3)})
        if conflict:
            self.conflicts.append({"path": path, "reason": CONFLICT})

    def rename(self, names: dict[str, str]) -> None:
        """Show each path that is a key of ``names`` as its value in every list of the report (an
        upload's saved file as the name the user gave it)."""
        for entry in [*self.skipped, *self.errors, *self.truncated, *self.conflicts]:
            entry["path"] = names.get(entry["path"], entry["path"])
        for entry in self.moved:
            entry["from"], entry["to"] = names.get(entry["from"], entry["from"]), names.get(entry["to"], entry["to"])

    @property
    def processed(self) -> int:
        """Files imported, or recognised as already in the library: 0 means nothing was done."""
        return self.tracks_added + self.known


def already_in_library(skipped: list[dict]) -> int:
    """How many of a report's ``skipped`` files were skipped for content already in the library
    (the others have an extension that is not audio)."""
    return sum(s.get("reason") == SAME_CONTENT for s in skipped)
