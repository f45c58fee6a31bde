"""Session 28's product code under attack (s28-review; BENCHMARKS.md "Hostile inputs tried",
"Session 28 (s28-review)"). Each test failed on main before its fix unless it says it is a guard.
The probes that found them: ``benchmarks/review_probes_s28.py``."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from tests.pipelines.test_history_s26 import NIGHT1, NIGHT2, _book1, _book2, _source, _tree

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_dying_in_the_streamed_merge_says_what_it_was_doing_and_what_to_do(
    tmp_path: Path, monkeypatch
) -> None:
    """A worker process killed (out of memory) while a streamed ``--keep-history`` ingest merges
    its partitions. Before: "an ingest worker process died (merge_step, 2 processes): out of
    memory? Set compute.ingest_workers: 1 in the project config (conf/ews.yaml) ..." - the name of
    an internal method, and conf/ews.yaml although the run read --project-config from elsewhere.
    Now the line says what the worker was doing in words, names the project config the run read,
    says nothing was published and to run the command again; exit 2, no traceback, the kept
    history unchanged."""
    from typer.testing import CliRunner

    import pipelines.ingest as ingest_pkg
    import pipelines.ingest.history_stream as history_stream
    from pipelines.cli import app
    from pipelines.ingest import ingest_source

    out = tmp_path / "out"
    ingest_source(_source(_book1(tmp_path / "n1")), out, as_of=NIGHT1, keep_history=True)
    before = _tree(out)
    files = _book2(tmp_path / "n2")
    source = tmp_path / "source.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "kind": "source",
                "name": "files",
                "default_currency": "EUR",
                "tables": {t: {"path": str(p)} for t, p in files.items()},
                "rules": {"data_docs": False, "bucket_rows": 4, "refuse_empty_table_rows": 10**6},
            }
        )
    )
    conf = yaml.safe_load((ROOT / "conf" / "ews.yaml").read_text())
    conf["compute"]["ingest_workers"] = 2
    project = tmp_path / "site" / "ews-site.yaml"
    project.parent.mkdir()
    project.write_text(yaml.safe_dump(conf))
    parent = os.getpid()
    original = history_stream.MergeJob.merge

    def dies_in_a_worker(self, p):
        if os.getpid() != parent:
            os._exit(137)  # as a process the OOM killer ended, without a result
        return original(self, p)

    monkeypatch.setattr(ingest_pkg, "STREAM_ROWS", 0)  # the streamed path
    monkeypatch.setattr(history_stream.MergeJob, "merge", dies_in_a_worker)
    args = ["ingest", "--source", str(source), "--as-of", NIGHT2.isoformat(), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--keep-history", "--project-config", str(project)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    text = " ".join(result.output.split())
    assert "merge_step" not in text and "_part" not in text, text
    assert "an ingest worker process died while merging today's export into the kept history" in text, text
    assert f"compute.ingest_workers: 1 in the project config ({project})" in text, text
    assert f"nothing was published, the previous outputs in {out} are unchanged" in text, text
    assert text.rstrip().endswith("then run the same command again"), text
    assert {k: v for k, v in _tree(out).items() if not k.startswith(".staging")} == before


def test_the_other_ledger_refusal_advises_what_ews_does_not_refuse(tmp_path: Path) -> None:
    """An export of another ledger into a kept history is refused (its ids are not the history's:
    what a night whose ids lost their leading zeros gives too, probe ``unknown``). Before, the line
    ended "(or without --keep-history to replace OUT)", which ebaac4a refuses ("an ingest without
    --keep-history would replace it"): the advice led to a second refusal. Now it says to delete
    OUT first, and doing so ingests the export."""
    import shutil

    from typer.testing import CliRunner

    from pipelines.cli import app
    from tests.pipelines.test_history_s25 import _foreign, _ingest, _night1

    out = tmp_path / "out"
    _ingest(_night1(tmp_path / "n1"), out, NIGHT1)
    files = _foreign(tmp_path / "other", "EUR", "X")
    args = [f"--{t}={p}" for t, p in files.items()]
    args += ["--as-of", NIGHT2.isoformat(), "--out", str(out), "--no-docs"]
    refused = CliRunner().invoke(app, ["ingest", *args, "--keep-history"])
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "25 of today's 25 invoices issued on or before 2024-03-31" in text, text
    plain = CliRunner().invoke(app, ["ingest", *args])
    assert plain.exit_code == 2 and "would replace it" in " ".join(plain.output.split()), plain.output
    assert "without --keep-history" not in text, text
    assert f"or delete {out} first to start the history over with it" in text, text
    shutil.rmtree(out)
    followed = CliRunner().invoke(app, ["ingest", *args, "--keep-history"])
    assert followed.exit_code == 0, followed.output
