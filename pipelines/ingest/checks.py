"""Table-level plausibility for the manifest: AR export open items, empty tables, warnings."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.source import RulesConfig, SourceConfig
from pipelines.ingest.masks import NOT_DAMAGE, isin
from pipelines.ingest.rules import BAD_CODE_COLUMNS
from pipelines.sources.read import TableError
from pipelines.words import counted

# ---------------------------------------------------------------- AR export plausibility


AR_MIN_INVOICES = 20


def ar_open_items(accepted: dict[str, pd.DataFrame], as_of: dt.date) -> dict[str, Any]:
    """Open (never settled) invoices of an AR export: counts, share, and those due over a year ago."""
    inv = accepted.get("invoices")
    if inv is None or inv.empty:
        return {"invoices": 0, "open": 0, "open_share": 0.0, "due_over_a_year": 0, "open_due_over_a_year": 0}
    pay = accepted.get("payments")
    settled = isin(inv["invoice_id"], pay["invoice_id"]) if pay is not None else np.zeros(len(inv), bool)
    old = (inv["due_date"] < pd.Timestamp(as_of) - pd.Timedelta(days=365)).to_numpy()
    return {
        "invoices": len(inv),
        "open": int((~settled).sum()),
        "open_share": round(float((~settled).mean()), 4),
        "due_over_a_year": int(old.sum()),
        "open_due_over_a_year": int((old & ~settled).sum()),
    }


def ar_settlement_column(source: SourceConfig) -> str:
    """The AR export's column whose blank means open (``settled_on``, else ``settled_amount``)."""
    assert source.ar_export is not None
    return str(source.ar_export.settled_on or source.ar_export.settled_amount)


def _ar_fix(column: str) -> str:
    return (
        f"a blank {column!r} means open. If this export holds settled invoices, check that {column!r} is the "
        "settlement column and is filled; an open-items export should hold few old invoices."
    )


def ar_old_warning(items: dict[str, Any], max_open_share: float, column: str) -> list[str]:
    """The AR export's invoices due over a year before the as-of date that are still open, when more
    than ``max_open_share`` of them (from 10 such invoices) and not every invoice is open."""
    n_old, old_open = items["due_over_a_year"], items["open_due_over_a_year"]
    if (
        n_old >= AR_MIN_INVOICES // 2
        and old_open / n_old > max_open_share
        and items["open"] != items["invoices"]
    ):
        return [
            f"ar_export: {old_open:,} of {n_old:,} invoices due over a year ago are still open (they put "
            f"their debtors in default); {_ar_fix(column)}"
        ]
    return []


def ar_warnings(items: dict[str, Any] | None, rules: RulesConfig, source: SourceConfig) -> list[str]:
    """Warn when an AR export's open share is implausible (blank settlement dates read as open)."""
    if not items or not items["invoices"]:
        return []
    column = ar_settlement_column(source)
    fix = _ar_fix(column)
    out = []
    n, n_open = items["invoices"], items["open"]
    if n < AR_MIN_INVOICES:
        return []  # shares of a handful of invoices say nothing
    if n_open == n:
        out.append(f"ar_export: none of the {n:,} invoices is settled, so all are treated as open; {fix}")
    elif items["open_share"] > rules.ar_max_open_share:
        out.append(
            f"ar_export: {n_open:,} of {n:,} invoices ({items['open_share']:.0%}) have no settlement and are "
            f"treated as open, more than rules.ar_max_open_share ({rules.ar_max_open_share:.0%}); {fix}"
        )
    return out + ar_old_warning(items, rules.ar_max_open_share, column)


# duplicate_row above this share of a table's rows: named (a line-item export) with its cost at scoring
DUPLICATE_ROW_WARN_SHARE = 0.05

# Optional debtor attributes: a bad value is cleared (default) instead of rejecting the debtor.
_EMPTY_HINTS: dict[str, str] = {
    "unparseable_date": "the dates do not match values.date_format (or date_formats) in the source config",
    "day_month_swapped": "the dates are month-first: set values.date_format (or date_formats) to m/d/Y or alike",
    "excel_serial_date": "the dates are Excel date serial numbers (45321 = 2024-01-30: a date column saved as "
    "General): set values.date_format (or values.date_formats.<column>) to excel in a source config, or format "
    "the column as a date in Excel before saving",
    "excel_scientific_id": "the ids are long numbers that Excel showed and saved in scientific notation "
    "(1.23457E+11), so different ids became one: format the id column as Text (or Number, 0 decimals) before "
    "saving, or export the CSV from the source system directly",
    "unparseable_number": "the numbers do not match values.decimal / values.thousands in the source config",
    "thousands_as_decimal": "the amounts are whole amounts grouped by thousands (1.500 = 1,500; Excel's #.##0) "
    "but values.decimal reads the separator as a decimal one: swap values.decimal and values.thousands in the "
    "source config",
    "unparseable_bool": "add the file's spellings to values.true_values / values.false_values",
    "date_after_as_of": "every date is after the as-of date: check --as-of",
    "date_too_old": "every date is before rules.min_date: check the date format or rules.min_date",
    "missing_value": "the mapped column is empty: check the column mapping",
    "unknown_debtor": "no debtor id matches the debtors table: check both debtor_id mappings",
    "debtor_quarantined": "every debtor was rejected: see the debtors table first",
    "unknown_invoice": "no invoice id matches the invoices table: check both invoice_id mappings",
    "invoice_before_export": "the payments name invoices issued before the invoices file starts (a rolling "
    "export): send the invoices they pay, or leave them (they are not counted as damage)",
    "invoice_quarantined": "every invoice was rejected: see the invoices table first",
    "malformed_row": "rows do not split into the header's columns: check csv.delimiter and csv.quotechar",
    "cut_last_line": "the file ends inside its last line: export it again",
}


def ar_undated_settlements(tables: dict[str, Any], source: SourceConfig) -> list[str]:
    """Name the AR export's settled amounts without a settlement date (typically part payments:
    the export fills the amount paid so far and leaves the date empty until the invoice is closed).
    Their payments are quarantined ``missing_value:paid_on``, whose generic hint would send the user
    to the column mapping; the fix is a date for them, which only the export can give."""
    spec = source.ar_export
    payments = tables.get("payments")
    if spec is None or spec.settled_amount is None or not payments:
        return []
    n = payments["reasons"].get("missing_value:paid_on", 0)
    if not n:
        return []
    date = f" ({spec.settled_on!r} is empty there)" if spec.settled_on else ""
    return [
        f"ar_export: {counted(n, 'invoice')} with an amount settled ({spec.settled_amount!r}) but no settlement "
        f"date{date}, typically part payments: ews cannot place a payment without its date, so they are "
        "quarantined (missing_value:paid_on, see quarantine/payments.csv) and those invoices count as "
        "unpaid. Fix: export the date of the last payment into the settlement date column, or export the "
        "payments as their own file (tables.payments) with their dates"
    ]


def refuse_empty_tables(
    tables: dict[str, Any], source: SourceConfig, near: dict[str, list[tuple[str, str]]] | None = None
) -> None:
    """Raise :class:`TableError` when a table with rows has none accepted (a broken feed or mapping).
    ``near``: per table, its ``unknown_debtor`` ids that are debtor ids spelled another way
    (:func:`lookalike_ids`), named as the likely cause."""
    limit = source.rules.refuse_empty_table_rows
    refuse_header_only_ledger(tables, limit)
    empty = [name for name, t in tables.items() if t["rows_in"] >= limit and not t["rows_accepted"]]
    if not empty:
        return
    lines = []
    for name in empty:
        t = tables[name]
        top = sorted(t["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        reasons = ", ".join(f"{k} ({v:,})" for k, v in top)
        hint = _EMPTY_HINTS.get(top[0][0].split(":", 1)[0], "") if top else ""
        if top and top[0][0] == "unknown_debtor" and (near or {}).get(name):
            hint = lookalike_hint(near[name], name)  # type: ignore[index]
        if source.name == "files" and "values." in hint:
            # canonical files (--invoices ...) have no source config to set values.* in: say how to get one
            hint += (
                f"; these files are read without a source config: `ews sources suggest {t['input']}` drafts one "
                "with the file's own date and number formats, then `ews ingest --source DRAFT`"
            )
        lines.append(
            f"{name}: none of {counted(t['rows_in'], 'row')} accepted ({t['input']}); reasons: {reasons}"
            + (f". Likely cause: {hint}" if hint else "")
        )
    config = "the source config" if source.name != "files" else "the input files"
    raise TableError(
        "ingest refused: a table lost every row, which means a broken export or a wrong mapping in "
        f"{config}, not bad rows. Nothing was written.\n  " + "\n  ".join(lines) + "\n"
        "See the reasons above; fix the file or the config and run again."
    )


def _empty_beside(tables: dict[str, Any], name: str, other: str, limit: int) -> bool:
    """``name`` read from its own file with a header and no rows, beside ``other`` with ``limit`` rows or
    more (both in ``tables``): the one condition of :func:`refuse_header_only_ledger`'s refusals."""
    a, b = tables.get(name), tables.get(other)
    return bool(a and b and a["rows_in"] == 0 and b["rows_in"] >= limit and a.get("input") != b.get("input"))


def refuse_header_only_ledger(tables: dict[str, Any], limit: int) -> None:
    """Invoices or payments read from their own file with a header and no rows, beside the other
    with ``limit`` rows or more: a cut-off export. Accepted, it gave exit 0 with the other table's
    rows quarantined as unknown_invoice (or every invoice open, so every debtor in default).
    ``tables``: per table at least ``rows_in`` and ``input`` (the streamed ingest calls it after
    the read, before any validation). An AR export (invoices and payments from one file) is left to its own open-share warnings."""
    pairs = (("invoices", "payments"), ("payments", "invoices"))
    lines = [
        f"{name}: {tables[name]['input']} has a header but no rows, while {other} has "
        f"{tables[other]['rows_in']:,} rows ({tables[other]['input']})"
        for name, other in pairs
        if _empty_beside(tables, name, other, limit)
    ]
    if lines:
        raise TableError(
            "ingest refused: " + "; ".join(lines) + ". A ledger needs both tables: export the empty one "
            "again (a cut-off or filtered export?). Nothing was written."
        )
    statements, invoices = tables.get("statements"), tables.get("invoices")
    if _empty_beside(tables, "statements", "invoices", limit):
        # s40-attack: accepted with exit 0 and no word; the statement accounts' balances and the debtors
        # known by their statements alone were left out of the night
        raise TableError(
            f"ingest refused: statements: {statements['input']} has a header but no rows, while invoices has "
            f"{invoices['rows_in']:,} rows ({invoices['input']}), so the statement accounts (their balances, "
            "and the debtors known by their statements alone) would be left out. Export the statements again "
            "(a cut-off or filtered export?), or leave --statements out to ingest the invoices alone. Nothing "
            "was written."
        )
    debtors = tables.get("debtors")
    if _empty_beside(tables, "debtors", "invoices", limit):
        # every invoice would be unknown_debtor, and the refusal blamed the debtor_id mappings
        raise TableError(
            f"ingest refused: debtors: {debtors['input']} has a header but no rows, while invoices has "
            f"{invoices['rows_in']:,} rows ({invoices['input']}), so every invoice would name an unknown "
            "debtor. Export the customer master again (a cut-off or filtered export?), or leave the debtors "
            "table out: the debtors are then taken from the invoices. Nothing was written."
        )


def spelling_key(ids: Any) -> Any:
    """The key two spellings of one customer id share (a pyarrow string array in, one out): the id
    in Unicode's compatibility form (NFKC: an accent composed or combined, full-width letters) and
    lower case, and an id of digits only (or a spreadsheet's number such as ``123.0``) without its
    leading zeros, so ``D0000002`` ~ ``d0000002``, ``00123`` ~ ``123`` ~ ``123.0`` and ``MÜLLER``
    written with one character for ``Ü`` ~ with ``U`` and a combining diaeresis."""
    import pyarrow.compute as pc

    ids = pc.utf8_normalize(ids, form="NFKC")
    digits = pc.match_substring_regex(ids, r"^[0-9]+(\.0+)?$")
    return pc.if_else(
        digits,
        pc.replace_substring_regex(ids, r"^0*([0-9]+?)(\.0+)?$", r"\1"),
        pc.replace_substring_regex(pc.utf8_lower(ids), r"\s+", ""),
    )


def _how(a: str, b: str) -> str:
    import unicodedata

    if a != b and unicodedata.normalize("NFKC", a) == unicodedata.normalize("NFKC", b):
        return "Unicode form"
    if a.lower() == b.lower():
        return "letter case"
    return "spaces" if "".join(a.split()).lower() == "".join(b.split()).lower() else "leading zeros"


_ZEROS_FIX = (
    " (a spreadsheet read the ids as numbers and dropped their leading zeros: format the id column as "
    "text before saving, or export every file from the same system)"
)


_SPELLED = {
    "Unicode form": "in characters that look the same but are other Unicode characters",
    "letter case": "in another letter case",
    "leading zeros": "with other leading zeros",
    "spaces": "with other spaces",
}


def _spelled(hows: set[str]) -> tuple[str, str]:
    """(how the ids differ, what the rule is) for the warnings and the refusal."""
    how = " or ".join(v for k, v in _SPELLED.items() if k in hows)
    if hows == {"letter case"}:
        return how, "ids are case-sensitive"
    if hows == {"spaces"}:
        return how, "ids are compared as written, spaces inside them included"
    if hows == {"Unicode form"}:
        return how, (
            "ids are compared character by character (an accented letter such as 'Ü' is one character in "
            "Unicode's NFC form and the letter with a combining accent in NFD: one system writes one, another "
            "the other; or full-width letters; converting every file to NFC spells them one way)"
        )
    return how, "ids are compared as written" + (_ZEROS_FIX if "leading zeros" in hows else "")


def lookalike_ids(unknown: pd.Series, known: Any) -> list[tuple[str, str]]:
    """(unknown id, the known id it spells another way) for each unknown id whose
    :func:`spelling_key` is a known id's (``known``: a pyarrow array of distinct ids)."""
    import pyarrow as pa

    if unknown.empty or not len(known):
        return []
    by_key = dict(zip(spelling_key(known).to_pylist(), known.to_pylist(), strict=True))
    values = unknown.astype(str).tolist()
    keys = spelling_key(pa.array(values, pa.string())).to_pylist()
    return [(v, by_key[k]) for v, k in zip(values, keys, strict=True) if k in by_key and by_key[k] != v]


def _named(near: list[tuple[str, str]]) -> tuple[str, str, str]:
    """(the first 3 distinct pairs as ``'a' for 'b'``, how they differ, the rule) of lookalike ids."""
    pairs = list(dict.fromkeys(near))
    hows = {_how(a, b) for a, b in pairs}
    how, rule = _spelled(hows)
    shown = ascii if "Unicode form" in hows else repr  # 'MU\u0308LLER' for 'M\xdcLLER': the difference shows
    return ", ".join(f"{shown(a)} for {shown(b)}" for a, b in pairs[:3]), how, rule


def lookalike_hint(near: list[tuple[str, str]], table: str) -> str:
    """The refusal's likely cause when unknown ids are master ids spelled another way."""
    shown, how, rule = _named(near)
    return (
        f"{len(near):,} of these rows name a debtor of the debtors table {how} ({shown}): {rule}. "
        f"Spell them one way in {table} and in the debtors file"
    )


def case_warnings(stage: Any) -> list[str]:
    """Warnings about debtor ids that differ only by letter case (``d0000002`` beside
    ``D0000002``) or by leading zeros (``00123`` beside ``123``, a spreadsheet's numbers). Ids are
    case-sensitive text: accepted ids that collide split one customer's invoices, exposure and days
    past due over two debtors (an AR export without a customer master makes each spelling a
    debtor); rows quarantined ``unknown_debtor`` whose id is a master's id spelled another way are
    named with it. Reads the staged debtors buckets' id column (else the invoices') and the
    quarantined rows' ids, about 0.5 CPU-s per million debtors."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    stage = Path(stage)
    files = sorted((stage / "debtors").glob("bucket=*/part-0.parquet"))
    if not files:  # no customer master: every id of the invoices and of the statements is a debtor
        # (s40-attack: a mixed book whose statements wrote 'd0000001' for the invoices' 'D0000001' split
        # each such customer into an invoice debtor and a statements-only one, without a word)
        files = [
            f for t in ("invoices", "statements") for f in sorted((stage / t).glob("bucket=*/part-0.parquet"))
        ]
    if not files:
        return []
    ids = pc.unique(
        pa.chunked_array([pq.read_table(f, columns=["debtor_id"]).column(0).combine_chunks() for f in files])
    )
    folded = spelling_key(ids)
    out = []
    if len(pc.unique(folded)) != len(ids):
        table_ids = pa.table({"id": ids, "key": folded})
        groups = table_ids.group_by("key").aggregate([("id", "list"), ("id", "count")])
        clash = groups.filter(pc.greater(groups["id_count"], 1))
        spelled = [sorted(g) for g in clash["id_list"].to_pylist()]
        hows = {_how(g[0], x) for g in spelled for x in g[1:]}
        shown = ascii if "Unicode form" in hows else repr
        examples = [" and ".join(shown(x) for x in g) for g in spelled[:3]]
        _, rule = _spelled(hows)
        out.append(
            f"debtors: {counted(len(clash), 'debtor id')} differing from another only by {' or '.join(sorted(hows))} ("
            f"{'; '.join(examples)}{' ...' if len(clash) > 3 else ''}): {rule}, so each spelling is a separate "
            "debtor and the customer's invoices, exposure and days past due are split between them. Spell each "
            "id one way in every export (and in the customer master), then ingest again"
        )
    out += _legal_form_spellings(ids, folded)
    for table in ("invoices", "payments", "statements"):
        qfile = stage / "quarantine" / f"{table}.csv"
        if not qfile.exists() or qfile.stat().st_size == 0:
            continue
        try:
            q = pd.read_csv(qfile, usecols=["reason", "debtor_id"], dtype=str, keep_default_na=False)
        except (ValueError, OSError):
            continue
        unknown = q.loc[q["reason"].str.contains("unknown_debtor", regex=False), "debtor_id"]
        near = lookalike_ids(unknown, ids)
        if near:
            shown, how, rule = _named(near)
            out.append(
                f"{table}: {counted(len(near), 'row')} quarantined unknown_debtor, naming a debtor of the customer master "
                f"{how} ({shown}): {rule}. Spell them as in the master and ingest again; see "
                f"quarantine/{table}.csv"
            )
    return out + _invoice_id_spellings(stage)


# a company's legal form written two ways: the last word of a customer name (an accounting package keys
# customers by name; a second account opened as 'Acme Limited' beside 'Acme Ltd')
_LEGAL_FORMS = {
    "limited": "ltd",
    "ltd": "ltd",
    "incorporated": "inc",
    "inc": "inc",
    "corporation": "corp",
    "corp": "corp",
    "company": "co",
    "co": "co",
    "gesellschaftmitbeschränkterhaftung": "gmbh",
    "gmbh": "gmbh",
    "publiclimitedcompany": "plc",
    "plc": "plc",
}
_LEGAL_FORM_END = re.compile(
    r"[\s.,]+(public\s+limited\s+company|gesellschaft\s+mit\s+beschränkter\s+haftung|limited|ltd|incorporated|inc"
    r"|corporation|corp|company|co|gmbh|plc)[\s.]*$"
)


def _legal_form_key(name: str) -> str | None:
    """``name`` in lower case with its legal form written one way ('Acme & Sons Limited' ~ 'acme&sonsltd'),
    None when it ends in no legal form."""
    import unicodedata

    low = unicodedata.normalize("NFKC", name).lower()
    end = _LEGAL_FORM_END.search(low)
    if end is None or end.start() == 0:
        return None
    form = _LEGAL_FORMS["".join(end.group(1).split())]
    return "".join(low[: end.start()].replace(" and ", " & ").split()) + "|" + form


def _legal_form_spellings(ids: Any, folded: Any) -> list[str]:
    """Debtor ids that differ only by how their legal form is written ('Ridgeway IT Services & Sons Ltd'
    and '... Limited', 'Acme Inc' and 'Acme Inc.'), the spellings :func:`spelling_key` already groups left
    out: two accounts of one customer in a package that keys customers by name split its invoices,
    exposure and days past due (s43-walk: a second account opened for one customer of 150, no word)."""
    groups: dict[str, set[str]] = {}
    for name, key in zip(ids.to_pylist(), folded.to_pylist(), strict=True):
        form = _legal_form_key(str(name))
        if form is not None:
            groups.setdefault(form, {})
            groups[form].setdefault(key, name)
    clash = [sorted(g.values()) for g in groups.values() if len(g) > 1]
    if not clash:
        return []
    clash.sort()
    examples = [" and ".join(repr(x) for x in g) for g in clash[:3]]
    return [
        f"debtors: {counted(len(clash), 'pair')} of customer names that differ only by how the legal form is "
        f"written ({'; '.join(examples)}{' ...' if len(clash) > 3 else ''}): if a pair is one customer (a second "
        "account opened in the accounting package), ews scores it as two debtors and splits the customer's "
        "invoices, exposure and days past due between them. Merge the accounts in the package (or map both "
        "names to one id), then ingest again; if they are two companies, nothing to do"
    ]


_UNMATCHED_INVOICE = ("unknown_invoice", "invoice_before_export")


def _invoice_id_spellings(stage: Any) -> list[str]:
    """Payments quarantined because their invoice id matches no invoice (``unknown_invoice``,
    ``invoice_before_export``) while it is an invoice's id spelled another way: ``123`` for ``00123``
    (a payments file saved through a spreadsheet, the invoices from the ERP), another letter case or
    spaces. Ids are compared as written, so each such invoice stays open by its payment's amount and
    its debtor runs late; s35-attack found the cause named as "invoices issued before the export
    began". Reads the staged invoices' id column one bucket at a time, only when such payments exist;
    only the invoice ids sharing a quarantined id's :func:`spelling_key` are kept."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    qfile = stage / "quarantine" / "payments.csv"
    if not qfile.exists() or qfile.stat().st_size == 0:
        return []
    try:
        q = pd.read_csv(qfile, usecols=["reason", "invoice_id"], dtype=str, keep_default_na=False)
    except (ValueError, OSError):
        return []
    hit = q["reason"].str.split("; ").map(lambda reasons: any(r in _UNMATCHED_INVOICE for r in reasons))
    unknown = q.loc[hit & (q["invoice_id"] != ""), "invoice_id"]
    if unknown.empty:
        return []
    keys = pc.unique(spelling_key(pa.array(unknown.tolist(), pa.string())))
    near_ids = []
    for part in sorted((stage / "invoices").glob("bucket=*/part-0.parquet")):
        ids = pq.read_table(part, columns=["invoice_id"]).column(0).combine_chunks().cast(pa.string())
        near_ids.append(ids.filter(pc.is_in(spelling_key(ids), value_set=keys)))
    if not near_ids:
        return []
    near = lookalike_ids(unknown, pc.unique(pa.concat_arrays(near_ids)))
    if not near:
        return []
    shown, how, rule = _named(near)
    return [
        f"payments: {counted(len(near), 'payment')} quarantined (unknown_invoice or invoice_before_export) naming an "
        f"invoice of the invoices table {how} ({shown}): {rule}. Each invoice stays open by its payment's "
        "amount and its debtor looks late. Spell the invoice ids as in the invoices file and ingest again; see "
        "quarantine/payments.csv"
    ]


QUARANTINE_WARN_SHARE = 0.2
"""A table with rows accepted but more than this share quarantined (exact copies left out, as in
the feed checks) is named at ingest: `ews score` refuses it (``max_quarantine_share``, 20 %).
Before, 8,265 of 10,259 invoices lost to "1,234.50" amounts gave exit 0 without a word. From
:data:`QUARANTINE_WARN_ROWS` rows (the feed checks' ``min_basis``): a hand-made file of a few rows
shows its reasons in quarantine/ without this line."""
QUARANTINE_WARN_ROWS = 50

_PARTIAL_HINTS = {
    "invoice_quarantined": "their invoices were quarantined: see the invoices table first",
    "debtor_quarantined": "their debtors were quarantined: see the debtors table first",
    "unknown_debtor": "their debtor ids are not in the debtors table: check the debtor_id of both files",
    "unknown_invoice": "their invoice ids are not in the invoices table: check the invoice_id of both files",
    "invoice_before_export": "they name invoices the invoices file does not hold, paid within "
    "rules.export_start_days of their debtor's first invoice in it: invoices issued before the file starts "
    "(a rolling export), or wrong invoice ids",
    # the whole-table hints of these two say "every date": wrong for a share (s30-third)
    "date_after_as_of": "they are dated after the as-of date (--as-of, default today): a file exported "
    "after that day, or a wrong date format; give the export's own date as --as-of",
    "date_too_old": "they are dated before rules.min_date: check the date format or rules.min_date",
}


def _large_share(name: str, t: dict[str, Any]) -> list[str]:
    """The warning of :data:`QUARANTINE_WARN_SHARE` for one table's manifest entry, or none."""
    copies = min(sum(t["reasons"].get(r, 0) for r in NOT_DAMAGE), t["rows_quarantined"])
    rows, lost = t["rows_in"] - copies, t["rows_quarantined"] - copies
    if not t["rows_accepted"] or rows < QUARANTINE_WARN_ROWS or lost / rows <= QUARANTINE_WARN_SHARE:
        return []
    reason, count = min(
        ((k, v) for k, v in t["reasons"].items() if k not in NOT_DAMAGE), key=lambda kv: (-kv[1], kv[0])
    )
    kind = reason.split(":", 1)[0]
    hint = _PARTIAL_HINTS.get(kind) or _EMPTY_HINTS.get(kind, "")
    return [
        f"{name}: {lost:,} of {counted(rows, 'row')} ({lost / rows:.0%}) quarantined, {count:,} of them {reason}"
        + (f". Likely cause: {hint}" if hint else "")
        + f". `ews score` refuses a feed with more than max_quarantine_share (20 %) of a table's rows "
        f"quarantined: fix the file or the source config and ingest again; see quarantine/{name}.csv"
    ]


_NOT_POSITIVE = {
    "invoices": "credit notes are not invoices in ews, so the invoices they reduce count in full (exposure and "
    "days past due overstated). Export credit notes as payments of the invoice they correct (tables.payments: "
    "invoice_id, paid_on = the credit note's date, amount > 0), or net them in the export",
    "payments": "a payment of 0 moves no money: leave it out of the export",
}


def _reversals(t: dict[str, Any]) -> list[str]:
    """Negative payments netted against the payment they reverse, or matching none (s12)."""
    r = t["reasons"]
    out = []
    if r.get("reversal"):
        out.append(
            f"payments: {counted(r['reversal'], 'negative payment')} (a bounced or reversed payment, a charge-back, "
            "a refund) cancelling an earlier payment of the same debtor and amount, made to the same invoice or to no "
            "invoice: both rows are quarantined (reversal, reversed_payment), so neither counts. An invoice the "
            "cancelled payment paid is open again; a refund of cash on account (an overpayment, a credit note "
            "paid back) only takes that cash off the account; see quarantine/payments.csv"
        )
    if r.get("reversal_unmatched"):
        out.append(
            f"payments: {counted(r['reversal_unmatched'], 'negative payment')} matching no earlier payment of the same "
            "debtor, "
            "invoice and amount (reversal_unmatched): quarantined. A refund of part of an overpayment leaves that "
            "part counted as cash on account; a reversal of a payment outside this export, or of a part of one, "
            "means that invoice still looks paid: net it in the export; see quarantine/payments.csv"
        )
    return out


def _unknown_references(t: dict[str, Any]) -> list[str]:
    """Payments of a ledger without payment numbers (DATEV: ids from rows) naming an invoice number the
    export does not hold: a credit note booked under its own number (s23-hostile, s24-export)."""
    repairs = t.get("repairs") or {}
    unknown = t["reasons"].get("unknown_invoice", 0) + t["reasons"].get("invoice_before_export", 0)
    if not unknown or not ({"payment_id_from_row", "invoice_from_reference"} & set(repairs)):
        return []
    return [
        f"payments: {counted(unknown, 'payment')} naming an invoice number the export does not hold (unknown_invoice, or "
        "invoice_before_export within rules.export_start_days of the debtor's first invoice): quarantined, so the invoice each was meant for stays open by its amount. A credit note booked under "
        "its own number (DATEV: GS24001 in Belegfeld 1) names the invoice it credits in another column: map "
        "that column as tables.payments.invoice_reference (DATEV: Belegfeld 2; conf/sources/README.md 6b) and "
        "ingest again; see quarantine/payments.csv"
    ]


def _negated(name: str, t: dict[str, Any]) -> list[str]:
    """``negate_amount`` on a file whose amounts were already positive: most rows end up negative
    (payments: reversals matching nothing; invoices: amount_not_positive) and the cause is the option."""
    if not t.get("amount_negated") or not t["rows_in"]:
        return []
    r = t["reasons"]
    negative = r.get("reversal_unmatched", 0) + r.get("reversal", 0) if name == "payments" else 0
    negative += r.get("amount_not_positive", 0)
    if 2 * negative < t["rows_in"]:
        return []
    return [
        f"{name}: {negative:,} of {counted(t['rows_in'], 'row')} quarantined with an amount <= 0 after negate_amount "
        f"reversed the file's signs: if the file writes these amounts positive already, remove negate_amount "
        f"from this table's block of the source config"
    ]


_ID_OF = {"invoices": "invoice_id", "payments": "payment_id"}


def _conflicting_ids(name: str, t: dict[str, Any]) -> list[str]:
    """Rows whose id appears again with other values (duplicate_id): every copy is quarantined, so
    the payment does not count (its invoice looks unpaid) or the invoice and its payments drop out.
    A feed that sends a corrected row again beside the old one does this (s14)."""
    column = _ID_OF.get(name)
    n = t["reasons"].get(f"duplicate_id:{column}", 0) if column else 0
    if not n or not t["rows_accepted"]:
        return []
    effect = (
        "those payments do not count, so the invoices they paid look unpaid"
        if name == "payments"
        else "those invoices are left out, with their payments (invoice_quarantined)"
    )
    split = (
        " One payment listed once per invoice it paid (same id, another invoice and part on each row) does "
        "this too: there, give each part its own payment_id (P1-1, P1-2), or map the export's part column as "
        "applied_amount (conf/sources/README.md)."
        if name == "payments"
        else ""
    )
    return [
        f"{name}: {counted(n, 'row')} sharing {'an' if column[0] in 'aeiou' else 'a'} {column} with another row of other values (duplicate_id:{column}): every copy "
        f"is quarantined and {effect}. A feed that sends a corrected row again beside the old one does this: "
        f"export each {column} once (the latest version).{split} See quarantine/{name}.csv"
    ]


def _lost_debtors(tables: dict[str, Any]) -> list[str]:
    """Ledger rows quarantined debtor_quarantined: a debtor whose master row was rejected (two rows
    for one id with other attributes, a bad attribute under rules.optional_attributes: quarantine)
    leaves scoring with all its invoices and payments. Before, 7 invoices and 8 payments of one
    debtor went this way without a word (s11-robust)."""
    debtors = tables.get("debtors")
    lost = {n: t["reasons"].get("debtor_quarantined", 0) for n, t in tables.items() if n != "debtors"}
    if not debtors or not any(lost.values()):
        return []
    why = ", ".join(f"{k} ({v:,})" for k, v in sorted(debtors["reasons"].items()) if k != "duplicate_row")
    rows = ", ".join(counted(v, n.removesuffix("s"), n) for n, v in lost.items() if v)
    return [
        f"debtors: {counted(debtors['rows_quarantined'] - debtors['reasons'].get('duplicate_row', 0), 'master row')} "
        f"rejected ({why}), taking {rows} with them "
        "(debtor_quarantined): those debtors are left out of features, scoring and the queues. Two rows for "
        "one debtor_id with other attributes are both rejected: keep one row per debtor in the customer "
        "master; see quarantine/debtors.csv"
    ]


_OPEN_COLUMN = re.compile(r"open|remaining|outstanding|balance|offen|rest|solde|\bdue\b", re.IGNORECASE)


def _no_payments(tables: dict[str, Any]) -> list[str]:
    """Invoices ingested without any payments table: nothing is paid, so every invoice is open and
    old ones are defaults. An ERP's invoice list (QuickBooks Invoice List, a Business Central ledger
    read as invoices) holds paid invoices beside open ones, with only today's open balance (s14)."""
    inv = tables.get("invoices")
    if not inv or "payments" in tables or inv["rows_accepted"] < AR_MIN_INVOICES:
        return []
    ignored = [c for c in inv.get("ignored_columns", []) if _OPEN_COLUMN.search(c)]
    hint = (
        f" (the file's {', '.join(repr(c) for c in ignored[:3])} is ignored: ews needs the day each invoice was "
        "paid, not what is open today)"
        if ignored
        else ""
    )
    return [
        f"invoices: {inv['rows_accepted']:,} invoices accepted and no payments table: nothing is paid in ews, so "
        "every invoice is open (its full amount is exposure, and one 90 days past due is a default)"
        + hint
        + ". Ingest the payments too (--payments FILE, or tables.payments in a source config), or map an export "
        "with one row per invoice and the date it was paid (closed, cleared) as an ar_export (settled_on). An "
        "open-items report alone is right only for today's balances: pair it with the payments export"
    ]


def _scope_differs(t: dict[str, Any]) -> list[str]:
    """Clearings kept apart by ``clearing.scope`` cells that differ between their rows (the join's
    ``scope_differs``): rows, column and fix."""
    split = (t.get("clearing") or {}).get("scope_differs")
    if not split:
        return []
    return [
        f"payments: {counted(split['clearings'], 'clearing')} whose rows name the same clearing document but "
        "differ in a clearing.scope column, so they were not joined: "
        f"{counted(split['payment_rows'], 'payment row')} left unallocated (cash on account, applied to the oldest "
        f"open invoice first; counted scope_differs) and {counted(split['invoice_rows'], 'invoice row')} left open. "
        + "; ".join(split.get("examples", []))
        + (" ..." if split["clearings"] > len(split.get("examples", [])) else "")
        + ". Fix: write the scope columns alike on every row of a clearing in the export (a cell left "
        "empty, a date written another way), or take that column out of tables.payments.clearing.scope "
        "when the export holds one fiscal year of one company code."
    ]


REASON_TAD = "thousands_as_decimal"


def _separators(info: dict[str, Any]) -> tuple[str, str, str]:
    """The decimal separator the suspect amounts were read with, the other one, and the examples as
    read (``row 1 '1.500' (read 1.5, meant 1500)``) of one ``thousands_as_decimal`` column entry."""
    sep = next((s for _r, s in info.get("examples", []) if s), "1.500")
    d = "," if "," in sep else "."
    shown = ", ".join(
        f"row {r} {s!r} (read {float(s.replace(d, '.')):g}, meant {s.replace(d, '')})"
        for r, s in info.get("examples", [])
    )
    return d, ("." if d == "," else ","), shown


def _cleared_thousands(info: dict[str, Any]) -> str:
    """The fix for values cleared ``thousands_as_decimal`` (an optional attribute, rows kept)."""
    d, other, shown = _separators(info)
    return (
        f"They look like whole amounts grouped by thousands read as decimals ({shown}): set values.decimal: "
        f"{other!r} and values.thousands: {d!r} in the source config and ingest again (amounts in a 3-decimal "
        "currency, KWD, BHD, ...: map the currency column or set default_currency). "
    )


def _thousands_as_decimal(name: str, reason: str, n: int, t: dict[str, Any]) -> str:
    """Rows quarantined ``thousands_as_decimal:<column>`` (:mod:`pipelines.ingest.decimals`): the
    column, how many of its amounts have the shape, examples as read, and the fix."""
    column = reason.split(":", 1)[1]
    info = (t.get("thousands_as_decimal") or {}).get(column, {})
    d, other, shown = _separators(info)
    return (
        f"{name}.{column} (column {t.get('columns', {}).get(column, column)!r} of {t.get('input', '?')}): "
        f"{counted(n, 'row')} quarantined ({reason}): {info.get('rows', n):,} of the "
        f"{info.get('with_separator', n):,} amounts written with a {d!r} have exactly three digits after it ({shown}), "
        f"the way whole amounts grouped by thousands are written (Excel's #.##0), and their currency has two "
        f"decimals or none, so values.decimal {d!r} would read them 1,000 times too small. Fix: set "
        f"values.decimal: {other!r} and values.thousands: {d!r} in the source config and ingest again. If they "
        "are amounts in a 3-decimal currency (KWD, BHD, OMR, JOD, TND, IQD, LYD), map the currency column "
        "(or set default_currency) instead; see quarantine/" + f"{name}.csv"
    )


def _unknown_event_kinds(n: int) -> str:
    """Events of a kind ews does not read: each may be a default its debtor is then scored without."""
    return (
        f"events: {counted(n, 'row')} of a kind ews does not read quarantined (unknown_event_kind): "
        + (
            "if it is a write-off, an agency placement or an insolvency under another name, its debtor is not "
            "in default by it and is scored as live. "
            if n == 1
            else "if they are write-offs, agency placements or insolvencies under other names, their debtors "
            "are not in default by them and are scored as live. "
        )
        + "ews reads write_off, "
        "agency_placement and insolvency (any case, a space or '-' for '_'): write one of these in the export's "
        "kind column and ingest again; see quarantine/events.csv"
    )


def table_warnings(tables: dict[str, Any]) -> list[str]:
    """Human-readable warnings for the manifest and the CLI (values cleared, ...)."""
    out = _lost_debtors(tables) + _no_payments(tables)
    for name, t in tables.items():
        if t["rows_in"] and not t["rows_accepted"]:
            top = ", ".join(f"{k} ({v})" for k, v in sorted(t["reasons"].items(), key=lambda kv: -kv[1])[:3])
            out.append(
                f"{name}: none of {counted(t['rows_in'], 'row')} accepted ({top}); see quarantine/{name}.csv"
            )
        out += _large_share(name, t)
        not_positive = t["reasons"].get("amount_not_positive", 0)
        if not_positive and t["rows_accepted"] and name in _NOT_POSITIVE:
            out.append(
                f"{name}: {counted(not_positive, 'row')} with an amount <= 0 quarantined (amount_not_positive): "
                f"{_NOT_POSITIVE[name]}; see quarantine/{name}.csv"
            )
        if name == "events" and t["reasons"].get("unknown_event_kind"):
            out.append(_unknown_event_kinds(t["reasons"]["unknown_event_kind"]))
        if name == "payments":
            out += _reversals(t)
            out += _scope_differs(t)
            out += _unknown_references(t)
        if t["reasons"].get("both_sides"):
            out.append(
                f"{name}: {counted(t['reasons']['both_sides'], 'row')} with an amount on both sides of the ledger (debit "
                "and credit, e.g. Sollbetrag and Habenbetrag) quarantined (both_sides): such a row would be read "
                "as an invoice and as a payment of it. Book it on one side (two rows if it is two bookings) and "
                f"export again; see quarantine/{name}.csv"
            )
        out += _negated(name, t)
        out += _conflicting_ids(name, t)
        unlike = (t.get("repairs") or {}).get("last_value_unlike_column")
        if unlike is not None:
            last = t.get("rows_read", t["rows_in"])
            out.append(
                f"{name}: {t['input']} ends without a line break, and the last value of its last line (source row "
                f"{last:,}) ends as only {unlike} of the values above it do, like one of the others cut short: if "
                "the file was cut off while it was written or copied, that value is wrong and rows after it are "
                "missing; check the end of the file and export it again (the row was kept)"
            )
        if t.get("cut_last_line"):
            cut = t["cut_last_line"]
            out.append(
                f"{name}: {t['input']} looks cut off: source row {cut['source_row']:,} was quarantined "
                f"(cut_last_line; {cut['detail']}); see quarantine/{name}.csv"
            )
        dups = t["reasons"].get("duplicate_row", 0)
        if (
            name == "events"
            and t["rows_accepted"]
            and dups >= 10
            and dups / t["rows_in"] > DUPLICATE_ROW_WARN_SHARE
        ):
            # a ledger's write-off rows, one per invoice, read as events: one event per debtor, day and kind
            # (s43-walk: the invoice-line wording below told the user to check an amount mapping)
            out.append(
                f"events: {dups:,} of {t['rows_in']:,} rows ({dups / t['rows_in']:.0%}) repeat another row's debtor, "
                "date and kind (duplicate_row; a ledger's write-off rows, one per invoice, mapped as events): one "
                "event per debtor, day and kind is kept and the copies are quarantined, so nothing is lost (they "
                "do not count in the feed checks' quarantine share); see quarantine/events.csv"
            )
        elif t["rows_accepted"] and dups >= 10 and dups / t["rows_in"] > DUPLICATE_ROW_WARN_SHARE:
            out.append(
                f"{name}: {dups:,} of {t['rows_in']:,} rows ({dups / t['rows_in']:.0%}) are copies of another row "
                "in the mapped columns (duplicate_row; an export with one row per invoice line repeats the "
                "invoice on each line): the first of each is kept and the copies are quarantined (they do not "
                "count in the feed checks' quarantine share). Check that amount is mapped to the invoice's total, "
                "not to a line amount, and that the export did not send rows twice; see quarantine/"
                + f"{name}.csv"
            )
        for reason, n in sorted(t["reasons"].items()):
            if reason.startswith("day_month_swapped:"):
                column = reason.split(":", 1)[1]
                out.append(
                    f"{name}.{column}: {counted(n, 'row')} quarantined ({reason}): not dates in the configured "
                    "date_format, but dates once day and month are swapped (e.g. 02/13/2023 read as day/month): "
                    "the export writes the month first. The other rows of this column whose day is <= 12 read "
                    f"both ways and were taken in the configured order: they are probably wrong by months. Set "
                    f"values.date_format (or values.date_formats.{column}) to the month-first layout (e.g. "
                    "m/d/Y) and ingest again; see quarantine/" + f"{name}.csv"
                )
            if reason.startswith("thousands_as_decimal:"):
                out.append(_thousands_as_decimal(name, reason, n, t))
            if reason.startswith("excel_scientific_id:") and t["rows_accepted"]:
                out.append(
                    f"{name}.{reason.split(':', 1)[1]}: {counted(n, 'row')} quarantined ({reason}): "
                    + _EMPTY_HINTS["excel_scientific_id"]
                    + f"; see quarantine/{name}.csv"
                )
            if reason.startswith("excel_serial_date:") and t["rows_accepted"]:
                column = reason.split(":", 1)[1]
                out.append(
                    f"{name}.{column}: {counted(n, 'row')} quarantined ({reason}): Excel date serial numbers (45321 = "
                    "2024-01-30), not dates in the configured date_format: cells formatted General in the "
                    f"spreadsheet. Set values.date_formats.{column}: excel in a source config (ISO dates in the "
                    "column are read too), or format the column as a date before saving; see quarantine/"
                    + f"{name}.csv"
                )
        for column, entry in t.get("values_cleared", {}).items():
            if set(entry["reasons"]) == {"below_currency_unit:amount"}:  # ingest.rules._to_currency_unit
                out.append(
                    f"{name}.{column}: {counted(entry['rows'], 'amount')} with more decimals than the currency has "
                    f"(first source rows {entry['first_source_rows']}) read down to the currency's smallest unit "
                    "(300.125 EUR as 300.12, 400.5 JPY as 400), rows kept: no payment settles a fraction of a cent, "
                    "and the rest would stay open and make the debtor late. Check that the export writes the "
                    "amounts as invoiced"
                )
                continue
            reasons = ", ".join(f"{k} ({v})" for k, v in entry["reasons"].items())
            grouped = (t.get("thousands_as_decimal") or {}).get(column)
            if entry.get("examples") and column in BAD_CODE_COLUMNS:
                seen = ", ".join(repr(v) for v in entry["examples"])
                out.append(
                    f"{name}.{column}: {counted(entry['rows'], 'value')} not {BAD_CODE_COLUMNS[column]}, e.g. {seen}: "
                    f"cleared, rows kept (first source rows {entry['first_source_rows']}). Export the code instead "
                    f"of the name, or leave {column} unmapped; rules.optional_attributes: quarantine rejects such "
                    "rows instead"
                )
                continue
            out.append(
                f"{name}.{column}: {counted(entry['rows'], 'invalid value')} cleared, rows kept ({reasons}; "
                f"first source rows {entry['first_source_rows']}). "
                + (
                    _cleared_thousands(grouped)
                    if grouped and f"{REASON_TAD}:{column}" in entry["reasons"]
                    else ""
                )
                + "Set rules.optional_attributes: quarantine to reject such rows instead."
            )
    return out


def unknown_debtors(
    typed: dict[str, pd.DataFrame], masks: dict[str, dict[str, np.ndarray]]
) -> pd.DataFrame | None:
    """Per debtor missing from a given debtors table (``unknown_debtor``; index ``debtor_id``): its
    quarantined ``invoices`` (count), ``invoiced`` and ``paid`` (the export's amounts) and ``payments``
    (count). None without a debtors table or such a row. A debtor partition of a streamed ingest gives
    its own debtors' rows (:func:`unknown_debtor_warning` reads their concatenation)."""
    if typed.get("debtors") is None:
        return None
    parts = {}
    for table in ("invoices", "payments"):
        frame, hit = typed.get(table), masks.get(table, {}).get("unknown_debtor")
        if frame is None or hit is None or not hit.any():
            continue
        rows = frame.loc[hit, ["debtor_id", "amount"]]
        parts[table] = rows["amount"].groupby(rows["debtor_id"].astype("string")).agg(["size", "sum"])
    if not parts:
        return None
    inv = parts.get("invoices", pd.DataFrame(columns=["size", "sum"]))
    pay = parts.get("payments", pd.DataFrame(columns=["size", "sum"]))
    ids = inv.index.union(pay.index)
    return pd.DataFrame(
        {
            "invoices": inv["size"].reindex(ids).fillna(0).astype("int64"),
            "invoiced": inv["sum"].reindex(ids).fillna(0.0).astype("float64"),
            "paid": pay["sum"].reindex(ids).fillna(0.0).astype("float64"),
            "payments": pay["size"].reindex(ids).fillna(0).astype("int64"),
        },
        index=ids.rename("debtor_id"),
    )


def staged_debtor_ids(stage: Any) -> Any:
    """The distinct debtor ids of a stage's debtors buckets (a pyarrow array; empty without them)."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = sorted((Path(stage) / "debtors").glob("bucket=*/part-0.parquet"))
    if not files:
        return pa.array([], pa.string())
    return pc.unique(
        pa.chunked_array([pq.read_table(f, columns=["debtor_id"]).column(0).combine_chunks() for f in files])
    ).cast(pa.string())


def unknown_debtor_warning(
    lost: pd.DataFrame | None, invoices_accepted: int, currency: str | None = None, known: Any = None
) -> list[str]:
    """Invoices of debtors missing from a given debtors table (``unknown_debtor``; :func:`unknown_debtors`)
    while other invoices are accepted: a customer master that dropped a customer who still owes money.
    Their invoices and payments are quarantined and the debtor leaves features, scoring and the queues;
    the table showed the row count only, and the nightly said "every invoice quarantined (e.g. a
    currency without a rate)" (s42-attack). Names the debtors (up to 3, largest open first), their
    invoices, what they were invoiced and paid and the open balance lost. Empty without such an invoice,
    or when no invoice is accepted (that table is refused whole). ``known``: the accepted debtor ids (a
    pyarrow array): an unknown id that is one of them spelled another way (``k1`` for ``K1``, ``42`` for
    ``00042``) is left to :func:`case_warnings`, which names it with the master's spelling."""
    if lost is None or not invoices_accepted or not lost["invoices"].any():
        return []
    if known is not None and len(known):  # an id of the master spelled another way: case_warnings names it
        near = {a for a, _ in lookalike_ids(pd.Series(lost.index.astype(str)), known)}
        lost = lost.loc[~lost.index.isin(near)]
        if not lost["invoices"].any():
            return []
    from pipelines.ingest.decimals import money_places

    places = money_places(currency)
    table = lost.loc[lost["invoices"] > 0]
    table = table.assign(open=(table["invoiced"] - table["paid"]).clip(lower=0.0))
    table = (  # the same order (and sums) from one frame or from a streamed ingest's partitions
        table.reset_index()
        .sort_values(["open", "invoices", "debtor_id"], ascending=[False, False, True], kind="stable")
        .set_index("debtor_id")
    )
    named = "; ".join(
        f"{d} ({counted(int(r['invoices']), 'invoice')}, {r['invoiced']:,.{places}f} invoiced, "
        f"{r['paid']:,.{places}f} paid, {r['open']:,.{places}f} open)"
        for d, r in table.head(3).iterrows()
    )
    more = f"; {len(table) - 3:,} more" if len(table) > 3 else ""
    n_pay = int(table["payments"].sum())
    with_pay = f" with {counted(n_pay, 'payment')}" if n_pay else ""
    return [
        f"invoices: {counted(int(table['invoices'].sum()), 'invoice')} of {counted(len(table), 'debtor')} missing "
        f"from the debtors table quarantined (unknown_debtor){with_pay}, {table['open'].sum():,.{places}f} open "
        f"in all: {named}{more}. They are left out of features, scoring and the queues. A customer master that "
        "dropped a customer who still owes money does this: add the debtor to the debtors table (or ingest "
        "without --debtors); see quarantine/invoices.csv"
    ]
