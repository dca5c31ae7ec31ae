"""The Label page's browser side, modelled in Python for Streamlit's AppTest.

AppTest runs no JavaScript, so ``LabelBrowser`` does what ``dashboard/label_view.js`` does with
the component's data and state: it reads the clips the server sent, answers and moves on the way
the browser does (the next clip of the queue ahead, or none while the server finds it), keeps an
outbox until the server acknowledges it, and sends its state back (``at.session_state``). The
browser tests drive the real script in Chromium.
"""

from __future__ import annotations

import json
import uuid

from streamlit.testing.v1 import AppTest

STATE_KEY = "label_view"


def _elements(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _elements(child)


def view_data(at: AppTest) -> dict | None:
    """The data the Label page sent to its view (``label_view.render``), or None without a view."""
    for element in _elements(at.main):
        if type(element).__name__ == "UnknownElement" and getattr(element, "key", None) == STATE_KEY:
            return json.loads(element.proto.json)
    return None


class LabelBrowser:
    """One browser tab on the Label page (``at`` already shows it)."""

    def __init__(self, at: AppTest) -> None:
        self.at = at
        self.seq = 0
        self.nav = None
        self.current: int | None = None
        self.after: int | None = None
        self.ahead: list[int] = []
        self.outbox: list[dict] = []
        self.skipped: list[int] = []
        self.feature = "log_stft"
        self.read()

    @property
    def data(self) -> dict:
        data = view_data(self.at)
        assert data is not None, "the Label page shows no label view"
        return data

    @property
    def clip(self) -> dict:
        """The clip shown, as the server sent it."""
        return next(c for c in self.data["clips"] if c["id"] == self.current)

    def read(self) -> None:
        data = view_data(self.at)
        if data is None:
            return
        acked = set(data["acked"])
        self.outbox = [r for r in self.outbox if r["id"] not in acked]
        self.seq = max(self.seq, data["seq_base"])
        ids = [c["id"] for c in data["clips"]]
        if data["nav"] != self.nav:
            self.nav, self.current, self.ahead = data["nav"], (ids[0] if ids else None), ids[1:]
        elif self.current is None and self.after is not None:
            if data["seq_base"] >= self.seq:
                self.after, self.current, self.ahead = None, (ids[0] if ids else None), ids[1:]
        elif self.current in ids:
            self.ahead = [i for i in ids[ids.index(self.current) + 1:] if i not in self.skipped]

    def send(self, **extra) -> LabelBrowser:
        client = {"seq": self.seq, "at": self.current, "after": self.after, "outbox": self.outbox,
                  "skipped": self.skipped, "draft": {"segment": self.current, "answers": extra.pop("draft", {})},
                  "feature": self.feature, "want_tempo": None, "poll": 0} | extra
        self.at.session_state[STATE_KEY] = {"client": client}
        self.at.run()
        assert not self.at.exception, [e.value for e in self.at.exception]
        self.read()
        return self

    def answer(self, **answers) -> LabelBrowser:
        """Type ``answers`` into the form: the server's live verdict comes back in ``data["decision"]``."""
        return self.send(draft=answers)

    def label(self, verdict: str | None, *, whole_track: bool = False, **answers) -> LabelBrowser:
        """Save the form with ``verdict`` (B / N / A) and move on, as the browser does."""
        self.outbox.append({"id": uuid.uuid4().hex, "segment": self.current, "answers": answers,
                            "verdict": verdict, "whole_track": whole_track})
        return self._advance()

    def skip(self) -> LabelBrowser:
        self.skipped.append(self.current)
        return self._advance()

    def go(self, segment_id: int) -> LabelBrowser:
        """← / →, or a cell of the track strip."""
        self.seq += 1
        self.current, self.after, self.ahead = segment_id, None, []
        return self.send()

    def _advance(self) -> LabelBrowser:
        done = {r["segment"] for r in self.outbox}
        upcoming = [i for i in self.ahead if i not in self.skipped and i not in done]
        self.seq += 1
        if upcoming:
            self.current, self.ahead, self.after = upcoming[0], upcoming[1:], None
        else:
            self.after, self.current, self.ahead = self.current, None, []
        return self.send()
