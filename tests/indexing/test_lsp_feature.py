"""The workspace index feature: `workspace/symbol` answers and `$/progress` that ends.

The language server here is a stand-in that records what would go to the client (the
wiring in server.py is exercised end to end by the e2e tests over stdio)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path
from types import SimpleNamespace

from lsprotocol import types

from indexing.extract import Symbol
from lsp_server.features.workspace_index import WorkspaceIndexFeature, to_workspace_symbol
from tests.indexing.conftest import wait_for, write_tree


class RecordingProgress:
    """Stand-in for pygls' `Progress`: records create/begin/report/end."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.tokens: dict[str, concurrent.futures.Future] = {}

    async def create_async(self, token):
        self.tokens[token] = concurrent.futures.Future()
        self.events.append(("create", token))

    def begin(self, token, value):
        self.events.append(("begin", value))

    def report(self, token, value):
        self.events.append(("report", value))

    def end(self, token, value):
        self.events.append(("end", value))


def _stand_in_server(progress_capable: bool = True):
    caps = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=progress_capable)
    )
    return SimpleNamespace(client_capabilities=caps, work_done_progress=RecordingProgress())


def test_symbol_conversion():
    s = Symbol(
        name="run",
        kind="method",
        qualified_name="Job.run",
        path="src/job.py",
        language="python",
        line=3,
        column=4,
        end_line=9,
        end_column=20,
        name_line=3,
        name_column=8,
        signature="def run(self)",
        doc="",
        container="Job",
    )
    ws = to_workspace_symbol(Path("/work/proj"), s)
    assert ws == types.WorkspaceSymbol(
        name="run",
        kind=types.SymbolKind.Method,
        location=types.Location(
            uri="file:///work/proj/src/job.py",
            range=types.Range(types.Position(3, 4), types.Position(9, 20)),
        ),
        container_name="Job",
    )
    top = to_workspace_symbol(
        Path("/p"), Symbol(**{**s.__dict__, "kind": "trait", "container": ""})
    )
    assert top.kind == types.SymbolKind.Interface and top.container_name is None


async def test_start_reports_progress_and_answers_workspace_symbol(workspace, tmp_path):
    write_tree(
        workspace, {f"m{i}.py": f"class Model{i}:\n    def save(self): pass\n" for i in range(5)}
    )
    ls = _stand_in_server()
    feature = WorkspaceIndexFeature(ls, workspace, db_path=tmp_path / "i.db")
    try:
        summary = await feature.start(ls)
        assert summary is not None and summary.files == 5
        kinds = [e[0] for e in ls.work_done_progress.events]
        assert kinds[:2] == ["create", "begin"] and kinds[-1] == "end"
        assert ls.work_done_progress.events[-1][1].message == "5 files, 10 symbols"

        found = feature.workspace_symbol("Model3")
        assert found[0].name == "Model3" and found[0].kind == types.SymbolKind.Class
        assert found[0].location.uri == (workspace / "m3.py").as_uri()
        saves = feature.workspace_symbol("save")
        assert {s.container_name for s in saves} == {f"Model{i}" for i in range(5)}

        # The watcher follows the disk...
        (workspace / "late.py").write_text("def late_arrival(): pass\n")
        await asyncio.to_thread(
            wait_for, lambda: bool(feature.workspace_symbol("late_arrival")), 10, "watcher"
        )
        # ...and unsaved buffers are indexed once typing pauses.
        feature.did_change((workspace / "m0.py").as_uri(), "def typed_not_saved(): pass\n")
        await asyncio.sleep(0.6)
        assert [s.name for s in feature.workspace_symbol("typed_not_saved")] == ["typed_not_saved"]
    finally:
        feature.stop()
    assert feature.workspace_symbol("Model3") == []


async def test_progress_ends_even_when_the_client_cancels(workspace, tmp_path):
    write_tree(workspace, {f"m{i}.py": f"def f{i}(): pass\n" for i in range(40)})
    ls = _stand_in_server()
    progress = ls.work_done_progress
    original_begin = progress.begin

    def begin_then_cancel(token, value):
        original_begin(token, value)
        progress.tokens[token].cancel()  # what pygls does on window/workDoneProgress/cancel

    progress.begin = begin_then_cancel
    feature = WorkspaceIndexFeature(ls, workspace, db_path=tmp_path / "i.db", watch=False)
    try:
        summary = await feature.start(ls)
    finally:
        feature.stop()
    assert summary is not None and summary.cancelled
    assert progress.events[-1][0] == "end" and progress.events[-1][1].message == "cancelled"


async def test_no_progress_without_client_support_and_noai(workspace, tmp_path):
    write_tree(workspace, {"a.py": "def a(): pass\n"})
    ls = _stand_in_server(progress_capable=False)
    feature = WorkspaceIndexFeature(ls, workspace, db_path=tmp_path / "i.db", watch=False)
    assert (await feature.start(ls)).files == 1
    assert ls.work_done_progress.events == []
    feature.stop()

    (workspace / ".noai").touch()
    off = WorkspaceIndexFeature(ls, workspace, db_path=tmp_path / "j.db")
    assert await off.start(ls) is None
    assert off.workspace_symbol("a") == []
    assert await WorkspaceIndexFeature(ls, None).start(ls) is None
