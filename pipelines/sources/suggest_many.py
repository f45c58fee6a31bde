"""One draft source config for several exports of one ledger (``ews sources suggest FILE FILE ...``).

Each file is drafted on its own (:func:`pipelines.sources.suggest.suggest_source`); the drafts are then
joined into one config, their comments kept:

- **invoices** are read from one file: the first whose draft maps every required column (Xero's
  Account Transactions list the invoices without a due date; the invoice export has it). The other
  files' invoice rows are the same invoices and are not read (a comment says so);
- **payments**: cash and credit memos are each read from one file: the first whose rows name the
  invoice they settle (Xero's credit notes name theirs in ``Reference`` in the invoice export, not in
  Account Transactions), else the first that has them. The kind read elsewhere is left out of the
  other files' ``rows.keep`` (so no payment is read twice). The file of the cash payments is the
  table's own file, the others its ``more_files``, each with the csv / values options of its own
  draft where they differ from the config's (the first file's);
- any other table comes from the first file that drafts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.sources.suggest import Draft, _q, suggest_source

__all__ = ["named_as_workbooks", "suggest_sources"]

REQUIRED_INVOICE = ("invoice_id", "debtor_id", "issue_date", "due_date", "amount")


@dataclass
class _One:
    path: Path
    draft: Draft
    data: dict[str, Any]
    blocks: dict[str, list[str]]  # table -> its lines under `tables:` (the `  <table>:` line first)
    head: list[str]  # the lines before `tables:`


def _split(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """The draft's lines before ``tables:`` and each table's block of lines (comment lines at the left
    margin inside a block, such as the 'columns not mapped' line, stay with their block)."""
    lines = text.splitlines()
    at = lines.index("tables:")
    blocks: dict[str, list[str]] = {}
    current = None
    for line in lines[at + 1 :]:
        m = re.match(r"^  ([a-z_]+):", line)
        if m:
            current = m.group(1)
            blocks[current] = []
        if current is not None:
            blocks[current].append(line)
    return lines[:at], blocks


def _flow(value: Any) -> str:
    """A YAML flow scalar / list / mapping (strings quoted)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kinds(spec: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
    """The payment rows' cash values and credit values of ``rows.keep`` (None: every row, no filter)."""
    keep = ((spec.get("rows") or {}).get("keep") or {}).get("values")
    credit = list((spec.get("credit") or {}).get("values") or [])
    if keep is None:
        return (None if not credit else [], credit)
    return [v for v in keep if v not in credit], [v for v in keep if v in credit]


def _names_invoice(spec: dict[str, Any]) -> bool:
    return (
        "invoice_id" in (spec.get("columns") or {})
        or bool(spec.get("clearing"))
        or bool(spec.get("listed_under_invoice"))
    )


def _keep_only(lines: list[str], spec: dict[str, Any], values: list[str], credit: bool) -> list[str]:
    """A payments block whose ``rows.keep`` keeps only ``values`` (the kind read from another file left
    out); without the credit memos, its ``credit`` line and that line's comment go too."""
    rows = dict(spec.get("rows") or {})
    rows["keep"] = {**rows["keep"], "values": values}
    out = []
    for line in lines:
        if line.startswith("    rows:"):
            line = f"    rows: {_flow(rows)}"
        if not credit and (line.startswith("    credit:") or line.startswith("    # credit memos (")):
            continue
        out.append(line)
    return out


def _options(one: _One, first: _One) -> list[str]:
    """``csv`` / ``values`` overrides of a file whose draft reads it otherwise than the config does."""
    out = []
    for key in ("csv", "values"):
        mine, theirs = one.data.get(key) or {}, first.data.get(key) or {}
        diff = {k: v for k, v in mine.items() if theirs.get(k) != v}
        if key == "csv" and "skip_rows" in theirs and "skip_rows" not in mine:
            diff["skip_rows"] = 0
        if diff:
            out.append(f"    {key}: {_flow(diff)}  # this file's own (drafted from it)")
    return out


def _as_more_file(lines: list[str], note: str) -> list[str]:
    """A table block re-indented as one item of ``more_files``."""
    body = [line for line in lines[1:]]
    out = [f"      # {note}"]
    first = True
    for line in body:
        if not line.strip():
            continue
        if line.startswith("#"):  # a left-margin comment of the block
            out.append("      " + line)
            continue
        text = "    " + line
        if first and not line.lstrip().startswith("#"):
            text = "      - " + line[4:]
            first = False
        out.append(text)
    return out


def tables_currencies(ones: list[_One]) -> list[str]:
    """The currencies of the invoices' file (most frequent first), [] without a currency column."""
    for o in ones:
        inv = (o.data.get("tables") or {}).get("invoices") or {}
        if "currency" in (inv.get("columns") or {}):
            return o.draft.currencies
    return []


def _with_currency(lines: list[str], spec: dict[str, Any], currencies: list[str]) -> list[str]:
    """A payments block without a currency column, beside invoices in several currencies: its amounts
    are in one currency, the organisation's (Xero's reports show the base currency), drafted as the
    invoices' most frequent one with a CHECK. Without it, a payment of a customer invoiced in another
    currency would be read in that currency (1,600.00 NZD as 1,600.00 USD)."""
    if "currency" in (spec.get("columns") or {}) or spec.get("currency"):
        return lines
    at = next((k for k, line in enumerate(lines) if line.startswith("    columns:")), len(lines))
    note = (
        f"    # CHECK: the invoices are in {', '.join(currencies[:4])}; this file has no currency column, and "
        "Xero's reports (Account Transactions) show every amount in the organisation's base currency: its "
        f"payments are in it. Drafted as {currencies[0]} (the invoices' most frequent); a payment of an invoice "
        "in another currency is then quarantined currency_mismatch (run the older Account Transactions report "
        "with 'Show in [base currency]' cleared for the original currencies; conf/sources/README.md 8b)"
    )
    return [*lines[:at], note, f'    currency: "{currencies[0]}"', *lines[at:]]


def suggest_sources(paths: list[Path], name: str | None = None) -> Draft:
    """One draft config for the exports ``paths`` (one file: :func:`suggest_source` itself)."""
    if len(paths) == 1:
        return suggest_source(paths[0], name)
    ones = []
    for path in paths:
        draft = suggest_source(path)
        head, blocks = _split(draft.text)
        ones.append(_One(path, draft, yaml.safe_load(draft.text) or {}, blocks, head))
    first = ones[0]
    notes: list[str] = []
    tables: dict[str, list[str]] = {}
    # invoices: one file, the first whose draft maps every required column
    with_inv = [o for o in ones if "invoices" in (o.data.get("tables") or {})]
    if with_inv:
        full = [
            o
            for o in with_inv
            if set(REQUIRED_INVOICE) <= set(o.data["tables"]["invoices"].get("columns") or {})
        ]
        chosen = (full or with_inv)[0]
        tables["invoices"] = (
            chosen.blocks["invoices"][:1] + _options(chosen, first) + chosen.blocks["invoices"][1:]
        )
        for o in with_inv:
            if o is not chosen:
                notes.append(
                    f"# invoices: read from {chosen.path.name}; the invoice rows of {o.path.name} are the same invoices"
                    + (" (without a due date)" if o not in full else "")
                    + ": not read"
                )
    # payments: cash from one file and credit memos from one file, each the first that names the invoice
    with_pay = [o for o in ones if "payments" in (o.data.get("tables") or {})]
    if with_pay:
        spec = {id(o): o.data["tables"]["payments"] for o in with_pay}
        chosen_kind: dict[str, _One] = {}
        for k, kind in enumerate(("cash", "credit")):
            has = [o for o in with_pay if (_kinds(spec[id(o)])[k] is None or _kinds(spec[id(o)])[k])]
            if has:
                chosen_kind[kind] = next((o for o in has if _names_invoice(spec[id(o)])), has[0])
        parts: list[tuple[_One, list[str], str]] = []
        for o in with_pay:
            cash, credit = _kinds(spec[id(o)])
            take_cash = chosen_kind.get("cash") is o
            take_credit = chosen_kind.get("credit") is o
            if not take_cash and not take_credit:
                notes.append(
                    f"# payments: the payment rows of {o.path.name} are read from the other files: not read"
                )
                continue
            lines = o.blocks["payments"]
            what = []
            if take_cash and (cash is None or cash):
                what.append("cash payments")
            if take_credit and credit:
                what.append("credit memos")
            dropped = (not take_cash and bool(cash)) or (not take_credit and bool(credit))
            if dropped and cash is not None:
                values = (cash if take_cash else []) + (credit if take_credit else [])
                lines = _keep_only(lines, spec[id(o)], values, take_credit)
                other = chosen_kind["credit" if take_cash else "cash"].path.name
                what.append(f"its {'credit memos' if take_cash else 'cash payments'} are read from {other}")
            parts.append((o, lines, "; ".join(what)))
        several = tables_currencies(ones)
        if len(several) > 1:  # invoices in several currencies, a payments file without a currency column
            parts = [(o, _with_currency(lines, spec[id(o)], several), what) for o, lines, what in parts]
        primary = next((p for p in parts if p[0] is chosen_kind.get("cash")), parts[0])
        o, lines, what = primary
        block = [f"  payments:  # {o.path.name}: {what}", *_options(o, first), *lines[1:]]
        rest = [p for p in parts if p is not primary]
        if rest:
            block.append("    more_files:  # other files of this table (conf/sources/README.md 6b)")
            for o2, lines2, what2 in rest:
                item = _as_more_file(lines2, f"{o2.path.name}: {what2}")
                at = next(k for k, line in enumerate(item) if line.startswith("      - "))
                item[at + 1 : at + 1] = ["    " + x for x in _options(o2, first)]
                block += item
        tables["payments"] = block
    for o in ones:
        for table, lines in o.blocks.items():
            if table not in tables:
                tables[table] = lines[:1] + _options(o, first) + lines[1:]
    names = " ".join(str(p) for p in paths)
    head = [
        line.replace(f"`ews sources suggest {first.path}`", f"`ews sources suggest {names}`")
        for line in first.head
    ]
    if name is not None:
        head = [f"name: {name}" if line.startswith("name: ") else line for line in head]
    head = [
        line
        if not line.startswith("description: ")
        else f"description: {_flow('drafted from ' + ', '.join(p.name for p in paths))}"
        for line in head
    ]
    if any(line.startswith("# default_currency:") for o in ones for line in o.head):
        # a file has a currency column: the default for empty cells is a CHECK, as in its own draft
        head = [f"# {line}" if line.startswith("default_currency:") else line for line in head]
    order = [
        t for t in ("invoices", "payments", "debtors", "events", "statements", "payment_plans") if t in tables
    ]
    # a file's own draft says where the other tables come from: said of this draft's tables, it misled
    # (s36-walk: "add tables.payments" under the invoices while tables.payments followed)
    stale = [
        f"# {t} come from another file: add tables.{t} " for t in ("payments", "invoices") if t in tables
    ] + (
        ["# the customer master: add tables.invoices and tables.payments "]
        if {"invoices", "payments"} <= set(tables)
        else []
    )
    body = [
        line
        for t in order
        for line in tables[t]
        if "`ews sources suggest THIS_FILE PAYMENTS_FILE`" not in line and not line.startswith(tuple(stale))
    ]
    out = head + notes + ["tables:"] + body
    text = "\n".join(out) + "\n"
    mapping = {**first.draft.mapping}
    return Draft(
        text=text,
        kind="invoices" if "invoices" in tables else first.draft.kind,
        mapping=mapping,
        notes=[n for o in ones for n in o.draft.notes],
    )


_PATH_LINE = re.compile(r"^(\s*)path: (.+)$")


def named_as_workbooks(text: str, workbooks: dict[Path, tuple[Path, str | None]]) -> str:
    """A draft ``text`` written from the CSV copies of Excel sheets, naming the workbooks instead:
    ``workbooks`` maps each copy to (its workbook, the sheet to name or None). Each ``path:`` of a copy
    becomes the workbook's, followed by ``sheet:`` when one is given (a workbook with several sheets
    holding data; `ews ingest` reads a workbook's only such sheet without it), and the copy's name in
    the comments and the description becomes the workbook's. `ews ingest` reads the workbook as it
    read the copy, so each month's export is ingested as saved (before session 38 the draft named a
    CSV written beside the workbook, to be converted again every month)."""
    out: list[str] = []
    for line in text.splitlines():
        m = _PATH_LINE.match(line)
        value = yaml.safe_load(m.group(2)) if m else None
        copy = next((c for c in workbooks if str(c) == value), None)
        if m is None or copy is None:
            out.append(line)
            continue
        workbook, sheet = workbooks[copy]
        out.append(f"{m.group(1)}path: {_q(str(workbook))}")
        if sheet is not None:
            out.append(f"{m.group(1)}sheet: {_q(sheet)}  # the workbook's sheet holding this table")
    said = "\n".join(out) + "\n"
    for copy, (workbook, _sheet) in workbooks.items():
        said = said.replace(str(copy), str(workbook)).replace(copy.name, workbook.name)
    return said
