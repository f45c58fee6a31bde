"""Session 22's review (s22-review; BENCHMARKS.md "Hostile inputs tried", "Session 22 (s22-review)"):
defects found in what session 22 landed. Each test failed on main before its fix; every expected
number is by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.config.source import FileSource, RulesConfig, SourceConfig
from pipelines.ingest import ingest_source
from pipelines.sources.read import cut_last_value

AS_OF = dt.date(2024, 6, 30)

# ------------------------------------------------- 1. cut_last_line: a value no cut can give is no cut


def test_a_last_value_that_is_no_shortened_value_of_the_columns_form_is_not_judged_cut() -> None:
    """4d9e1b1 quarantines the last record of a file without a final line break when its last value
    ends unlike the values above it, because a file cut inside its last field leaves a *prefix* of
    the value (``30.27`` -> ``30.2`` / ``30.`` / ``30`` / ``3``). But it also quarantined values no
    cut can give: a value longer in its last run of digits than every value above (``INV-9999`` ->
    ``INV-10000``, ``30.27`` -> ``30.275``), or one with a separator in a column of plain digits
    (``1500`` -> ``1500.5``; a prefix of digits is digits)."""

    def book(values: list[str]) -> list[str]:
        return [f"P{i},{v}" for i, v in enumerate(values)]

    ids = [f"INV-{n}" for n in range(9990, 10000)]  # ten values above, each ends '-9999'
    assert cut_last_value(book([*ids, "INV-10000"]), 2, ",", '"') is None  # the next id, whole
    assert cut_last_value(book([*ids, "INV-999"]), 2, ",", '"') == ("INV-999", "INV-9999", 10)  # cut
    assert cut_last_value(book([*ids, "INV-"]), 2, ",", '"') == ("INV-", "INV-9999", 10)  # cut
    assert cut_last_value(book([*ids, "INV"]), 2, ",", '"') == ("INV", "INV-9999", 10)  # cut
    whole = ["1500", "250", "75", "1200", "90"]  # digits only: a cut of such a value is digits too
    assert cut_last_value(book([*whole, "1500.5"]), 2, ",", '"') is None
    cents = ["30.27", "12.50", "7.05", "100.00", "3.10"]
    assert cut_last_value(book([*cents, "30.275"]), 2, ",", '"') is None  # longer: not a cut
    for cut in ("30.2", "30.", "30", "3"):
        assert cut_last_value(book([*cents, cut]), 2, ",", '"') == (cut, "3.10", 5)


def test_a_file_whose_last_id_gains_a_digit_is_read_in_full(tmp_path: Path) -> None:
    """End to end (pyarrow's read): payments PAY-976 ... PAY-1000, the id last, no final line break.
    On main the last payment (PAY-1000, whole) was quarantined cut_last_line: 24 + 1 of 25."""
    folder = tmp_path / "book"
    folder.mkdir()
    debtors = ["debtor_id,name"] + [f"D{i:02d},Firm {i}" for i in range(5)]
    invoices = ["invoice_id,debtor_id,issue_date,due_date,amount,currency"] + [
        f"I{i:02d},D{i % 5:02d},2024-01-{i + 1:02d},2024-02-{i + 1:02d},{100 + i}.00,EUR" for i in range(25)
    ]
    payments = ["debtor_id,invoice_id,paid_on,amount,payment_id"] + [
        f"D{i % 5:02d},I{i:02d},2024-03-{i + 1:02d},{10 + i}.50,PAY-{976 + i}" for i in range(25)
    ]
    assert payments[-1].endswith(",PAY-1000") and payments[-2].endswith(",PAY-999")
    files = {}
    for name, lines in (("debtors", debtors), ("invoices", invoices), ("payments", payments)):
        files[name] = folder / f"{name}.csv"
        files[name].write_text("\n".join(lines) + ("\n" if name != "payments" else ""))
    rules = RulesConfig(data_docs=False, refuse_empty_table_rows=10**6)
    source = SourceConfig(name="files", rules=rules, tables={t: FileSource(path=p) for t, p in files.items()})
    manifest = ingest_source(source, tmp_path / "out", as_of=AS_OF).manifest
    pay = manifest["tables"]["payments"]
    assert (pay["rows_in"], pay["rows_accepted"], pay["reasons"]) == (25, 25, {})
    assert not [w for w in manifest["warnings"] if "cut" in w]
