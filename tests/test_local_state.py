"""The embedded engine's apply mode on small programs, and its state file and lock (no services needed)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dill
import pulumi
import pytest
from pulumi.dynamic import CreateResult, Resource, UpdateResult
from pulumi.dynamic.dynamic import serialize_provider

from mbops.components.local.database import PostgresProvider
from mbops.components.local.provider import LocalProvider
from mbops.engine import apply
from mbops.engine.apply import Applier, Event, load_provider, mark_secrets
from mbops.engine.embedded import SECRET_SIG, SIG_KEY, run_program
from mbops.engine.state import LockedError, StackState, StateError, StateStore
from mbops.errors import DeployError

# -- a tiny provider for engine tests: a file whose content is an input --------------------------------------


@pytest.fixture(autouse=True)
def trust_this_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine runs only providers of trusted modules: this module's test provider too, here."""
    monkeypatch.setattr(apply, "TRUSTED_PROVIDER_MODULES", [*apply.TRUSTED_PROVIDER_MODULES, __name__])


LOG: list[tuple[str, str, float]] = []  # (action, name, time)


class FileProvider(LocalProvider):
    required = ("path", "content")
    optional = ("delay",)
    computed = ("size", "status")
    replace_keys = ("path",)
    healthy_status = "present"

    def create(self, props: dict[str, Any]) -> CreateResult:
        LOG.append(("create", Path(props["path"]).name, time.monotonic()))
        time.sleep(props.get("delay", 0))
        Path(props["path"]).write_text(props["content"])
        LOG.append(("created", Path(props["path"]).name, time.monotonic()))
        return CreateResult(props["path"], {**props, "size": len(props["content"]), "status": "present"})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        LOG.append(("update", Path(news["path"]).name, time.monotonic()))
        Path(news["path"]).write_text(news["content"])
        return UpdateResult({**news, "size": len(news["content"]), "status": "present"})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        LOG.append(("delete", Path(props["path"]).name, time.monotonic()))
        Path(props["path"]).unlink(missing_ok=True)

    def problems(self, outs: dict[str, Any]) -> list[str]:
        return [] if Path(outs["path"]).exists() else ["file missing"]

    def gone(self, outs: dict[str, Any]) -> bool:
        return not Path(outs["path"]).exists()


class File(Resource, module="test", name="File"):
    size: pulumi.Output[int]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(FileProvider(), name, {**props, "size": None, "status": None}, opts)


def _apply(store: StateStore, program: Any) -> tuple[Applier, list[Event]]:
    events: list[Event] = []
    state = store.load("t") or StackState(stack="t")
    applier = Applier(state, store, events.append)
    run_program(program, applier, project="mbops", stack="t", dry_run=False)
    gone = [r for r in state.resources if r.urn not in set(applier.seen)]
    applier.delete_all(gone, delete_data=False)
    store.save(state)
    return applier, events


def test_independent_resources_are_created_in_parallel_and_dependents_wait(tmp_path: Path) -> None:
    LOG.clear()
    store = StateStore(tmp_path / "state")

    def program() -> None:
        a = File("a", {"path": str(tmp_path / "a"), "content": "A", "delay": 0.6})
        b = File("b", {"path": str(tmp_path / "b"), "content": "B", "delay": 0.6})
        File(
            "c",
            {
                "path": str(tmp_path / "c"),
                "content": pulumi.Output.all(a.size, b.size).apply(lambda v: f"{v[0]}{v[1]}"),
            },
        )

    t0 = time.monotonic()
    applier, events = _apply(store, program)
    assert time.monotonic() - t0 < 1.15, "a and b were not created in parallel"
    times = {(action, name): at for action, name, at in LOG}
    assert max(times[("create", "a")], times[("create", "b")]) < min(
        times[("created", "a")], times[("created", "b")]
    )
    assert times[("create", "c")] >= max(times[("created", "a")], times[("created", "b")])
    assert (tmp_path / "c").read_text() == "11"
    assert applier.counts == {"create": 3}
    done = [e for e in events if e.phase == "done"]
    assert {e.name for e in done} == {"a", "b", "c"} and all(e.elapsed >= 0 for e in done)


def test_same_update_replace_and_delete_against_the_recorded_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")

    def program_v1() -> None:
        File("keep", {"path": str(tmp_path / "keep"), "content": "1"})
        File("edit", {"path": str(tmp_path / "edit"), "content": "1"})
        File("move", {"path": str(tmp_path / "move1"), "content": "1"})
        File("drop", {"path": str(tmp_path / "drop"), "content": "1"})

    def program_v2() -> None:
        File("keep", {"path": str(tmp_path / "keep"), "content": "1"})
        File("edit", {"path": str(tmp_path / "edit"), "content": "2"})
        File("move", {"path": str(tmp_path / "move2"), "content": "1"})

    _apply(store, program_v1)
    mtime = (tmp_path / "keep").stat().st_mtime_ns
    LOG.clear()
    applier, events = _apply(store, program_v2)
    assert applier.counts == {"same": 1, "update": 1, "replace": 1, "delete": 1}
    assert (tmp_path / "keep").stat().st_mtime_ns == mtime
    assert (tmp_path / "edit").read_text() == "2"
    assert not (tmp_path / "move1").exists() and (tmp_path / "move2").exists()
    assert not (tmp_path / "drop").exists()
    assert {r.name for r in store.load("t").resources} == {"keep", "edit", "move"}
    assert next(e for e in events if e.name == "edit" and e.phase == "done").detail == "changed: content"

    (tmp_path / "keep").unlink()  # drift: the next run repairs it
    applier, events = _apply(store, program_v2)
    assert applier.counts == {"same": 2, "replace": 1}
    assert (tmp_path / "keep").exists()


def test_deletion_runs_dependents_first(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")

    def program() -> None:
        base = File("base", {"path": str(tmp_path / "base"), "content": "x"})
        mid = File("mid", {"path": str(tmp_path / "mid"), "content": base.size.apply(str)})
        File("top", {"path": str(tmp_path / "top"), "content": mid.size.apply(str)})
        File("side", {"path": str(tmp_path / "side"), "content": base.size.apply(str)})

    _apply(store, program)
    LOG.clear()
    state = store.load("t")
    Applier(state, store, lambda _e: None).delete_all(list(state.resources), delete_data=False)
    order = [name for action, name, _ in LOG if action == "delete"]
    assert order.index("top") < order.index("mid") < order.index("base")
    assert order.index("side") < order.index("base")
    assert store.load("t").resources == []


def test_providers_pickle_by_reference_and_load_like_the_dynamic_host() -> None:
    serialized = serialize_provider(PostgresProvider())
    raw = base64.b64decode(serialized)
    assert b"mbops.components.local.database" in raw and len(raw) < 400  # a reference, not the code
    assert isinstance(dill.loads(raw), PostgresProvider)
    assert isinstance(load_provider({SIG_KEY: SECRET_SIG, "value": serialized}), PostgresProvider)


def test_secret_outputs_stay_marked() -> None:
    inputs = {"values": {SIG_KEY: SECRET_SIG, "value": {"A": "1"}}}
    outs = {"url": "postgresql://x", "port": 5, "values": {"A": "1"}}
    wire = mark_secrets(outs, inputs, PostgresProvider())
    assert wire["url"] == {SIG_KEY: SECRET_SIG, "value": "postgresql://x"}
    assert wire["values"][SIG_KEY] == SECRET_SIG and wire["port"] == 5


# -- state file and lock -------------------------------------------------------------------------------------


def test_state_is_written_atomically_and_privately(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    store.save(StackState(stack="s1", profile="custom", environment="dev"))
    path = store.path("s1")
    assert path.stat().st_mode & 0o777 == 0o600 and (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert store.load("s1").profile == "custom"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    path.write_text(json.dumps({"version": 99, "stack": "s1"}))
    with pytest.raises(StateError, match="state version 99 is not supported"):
        store.load("s1")


def test_a_corrupted_state_file_is_backed_up_once_and_left_in_place(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.path("bad").write_text('{"version": 1, "stack": "bad", "resources": [')
    for _ in range(2):
        with pytest.raises(StateError, match="is corrupted") as caught:
            store.load("bad")
    backups = list(tmp_path.glob("bad.json.corrupt-*"))
    assert len(backups) == 1 and str(backups[0]) in str(caught.value)
    assert backups[0].stat().st_mode & 0o777 == 0o600
    assert store.path("bad").read_text().endswith("[")


def test_the_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.lock("s1", "up") as held:
        with pytest.raises(
            LockedError, match=re.escape(f"stack s1 is locked by pid {os.getpid()} (since {held.since}")
        ), store.lock("s1", "destroy"):
            pass
        assert store.lock_holder("s1").pid == os.getpid()
        with store.lock("s2", "up"):  # other stacks are independent
            pass
    assert store.lock_holder("s1") is None and not store.lock_path("s1").exists()
    with store.lock("s1", "up"):
        pass


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import time; from mbops.engine.state import StateStore\n"
         f"with StateStore({str(tmp_path)!r}).lock('s1', 'up'):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    store = StateStore(tmp_path)
    with pytest.raises(LockedError, match=f"locked by pid {holder.pid}"), store.lock("s1", "up"):
        pass
    holder.kill()  # SIGKILL: the lock file stays behind, its flock dies with the process
    holder.wait()
    assert StateStore(tmp_path).lock_path("s1").exists()
    notices: list[str] = []
    with StateStore(tmp_path).lock("s1", "up", notices.append):
        pass
    assert len(notices) == 1 and f"pid {holder.pid}" in notices[0] and "no longer running" in notices[0]


def test_concurrent_lockers_in_threads_get_exactly_one_winner(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    barrier = threading.Barrier(4)
    outcome: list[str] = []

    def contend() -> None:
        barrier.wait()
        try:
            with store.lock("race", "up"):
                outcome.append("won")
                time.sleep(0.3)
        except LockedError:
            outcome.append("locked")

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome) == ["locked", "locked", "locked", "won"]


# -- guard rails: state folders, the code a state names, the paths it names, unfinished steps ---------------


def test_a_state_folder_that_other_users_can_change_is_refused(tmp_path: Path) -> None:
    from mbops.errors import ConfigError

    open_parent = tmp_path / "open"
    open_parent.mkdir()
    os.chmod(open_parent, 0o777)  # anyone may rename or replace what is in it
    with pytest.raises(ConfigError, match=r"can be written by other users \(mode 0777\)"):
        StateStore(open_parent / "state").save(StackState(stack="s1"))
    assert not (open_parent / "state").exists()

    deep = open_parent / "team" / "ops"  # a private-looking folder two levels under the open one: still refused
    deep.mkdir(parents=True, mode=0o700)
    with pytest.raises(ConfigError, match=r"can be written by other users \(mode 0777\)"):
        StateStore(deep / "state").save(StackState(stack="s1"))
    assert not (deep / "state").exists()

    sticky = tmp_path / "sticky"  # like /tmp: others may add entries, but not rename or remove ours
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    StateStore(sticky / "state").save(StackState(stack="s1"))
    assert (sticky / "state").stat().st_mode & 0o777 == 0o700

    loose = tmp_path / "loose"  # an existing folder of ours that others could read: made private
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    StateStore(loose).save(StackState(stack="s1"))
    assert loose.stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_state_folder_under_another_users_folder_is_refused(tmp_path: Path) -> None:
    from mbops.errors import ConfigError

    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)  # nobody: could swap our state for one that runs their code as us
    with pytest.raises(ConfigError, match="belongs to nobody"):
        StateStore(theirs / "state").load("s1")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    os.chown(shared, 0, 100)  # group "users": writable by its other members
    with pytest.raises(ConfigError, match="can be written by other users"):
        StateStore(shared / "state").load("s1")


def test_a_state_that_names_code_outside_mbops_is_refused(tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple:
            return (os.system, (f"touch {marker}",))

    for raw in (pickle.dumps(Payload()), pickle.dumps(os.getcwd), pickle.dumps(StackState)):
        text = base64.b64encode(raw).decode()
        with pytest.raises(DeployError, match="refusing a dynamic provider"):
            load_provider({SIG_KEY: SECRET_SIG, "value": text})
    assert not marker.exists()


def test_a_state_file_of_another_stack_is_not_read_as_this_one(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(StackState(stack="one"))
    store.path("two").write_bytes(store.path("one").read_bytes())
    with pytest.raises(StateError, match="is not stack two's: it names one"):
        store.load("two")


def test_paths_outside_the_stacks_folders_are_refused_before_anything_is_done(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def program() -> None:
        File("f", {"path": str(store.stack_dir("t") / "f"), "content": "x"})

    store.stack_dir("t").mkdir(parents=True)
    _apply(store, program)
    apply.check_paths(store.load("t"), store)  # its own folder: fine
    state = store.load("t")
    state.kept_data = [str(elsewhere)]
    with pytest.raises(StateError, match=f"names paths outside stack t's folders .*: {elsewhere}"):
        apply.check_paths(state, store)
    state.kept_data = [str(store.stack_dir("t") / ".." / "other")]  # `..` does not escape the check
    with pytest.raises(StateError, match="names paths outside"):
        apply.check_paths(state, store)


class PathFileProvider(FileProvider):
    path_keys = ("path",)


class PathFile(Resource, module="test", name="PathFile"):
    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(PathFileProvider(), name, {**props, "size": None, "status": None}, opts)


def test_a_resource_path_outside_the_stacks_folders_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    _apply(store, lambda: PathFile("f", {"path": str(tmp_path / "outside"), "content": "x"}))
    with pytest.raises(StateError, match=f"names paths outside stack t's folders .*: {tmp_path / 'outside'}"):
        apply.check_paths(store.load("t"), store)


class FailingProvider(FileProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        Path(props["path"]).write_text("half")  # what a step leaves behind before it fails
        raise DeployError("boom")

    def leftovers(self, inputs: dict[str, Any]) -> list[str]:
        return [f"{inputs['path']} was left"] if Path(inputs["path"]).exists() else []


class Failing(Resource, module="test", name="Failing"):
    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(FailingProvider(), name, {**props, "size": None, "status": None}, opts)


def test_an_unfinished_step_is_recorded_reported_by_refresh_and_cleaned_up_by_destroy(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    left = tmp_path / "left"
    with pytest.raises(Exception, match="boom"):
        _apply(store, lambda: Failing("x", {"path": str(left), "content": "x"}))
    state = store.load("t")
    assert state.resources == [] and [(p.name, p.op, p.failed) for p in state.pending] == [("x", "create", "boom")]
    drift = apply.refresh("t", store).drift
    assert drift == [{"resource": "x", "urn": state.pending[0].urn, "was": "create failed (boom)",
                      "now": f"{left} was left", "repair": "the next up runs it again; destroy removes what it left"}]
    apply.destroy("t", store)  # the step's own delete, with its inputs, removes what it left
    assert not left.exists() and store.load("t").pending == []
