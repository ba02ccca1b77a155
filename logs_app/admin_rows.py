"""The delivery log's list rows, drawn as Django's admin draws them (the same HTML) for a fraction of its time.

Django's `items_for_result` decides each cell's kind again for every row: it looks the column up, asks for the
empty value, builds the cell with `format_html`, reverses the row's URL and, with a search or filter on, resolves
that URL again to add the list's filters to it. At 10 million logs that was a third of a list page (the queries
take a few milliseconds). Here each column's kind is decided once per page, the change URL is built once (with
the filters) and each row's id put in it, and a cell is one format string. A list this does not draw (editable,
in a popup, with actions or other link columns) gets Django's own rows.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

from django.contrib.admin.templatetags.admin_list import ResultList, results
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field, display_for_value, quote
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe

# Stands for a row's id in the change URL built once per page (letters only: the admin's quote() keeps them).
PK_MARK = "LOGPKMARK"


def _drawn_by_django(cl) -> bool:
    return bool(cl.formset or cl.is_popup or cl.to_field or "action_checkbox" in cl.list_display
                or list(cl.list_display_links or ()) != list(cl.list_display[:1]))


def _method_cell(method: Callable[[Any], Any], empty: str, classes: str) -> Callable[[Any], tuple[Any, str]]:
    """A column the admin draws with a method of its own; or the model's automatic id, drawn from its value."""
    empty = getattr(method, "empty_value_display", empty)

    def cell(row):
        value = method(row)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        return display_for_value(value, empty), classes + (" nowrap" if isinstance(value, (dt.date, dt.time)) else "")
    return cell


def _field_cell(field: models.Field, empty: str, classes: str) -> Callable[[Any], tuple[Any, str]]:
    """A column of one of the model's own fields; one with choices (a few values) draws each value once."""
    if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
        classes += " nowrap"
    drawn: dict[Any, Any] = {}
    choices = bool(field.flatchoices)

    def draw(value: Any) -> Any:
        if not choices:
            return display_for_field(value, field, empty)
        if value not in drawn:
            drawn[value] = display_for_field(value, field, empty)
        return drawn[value]

    def cell(row):
        value = getattr(row, field.attname)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        return draw(value), classes
    return cell


def _columns(cl) -> list[Callable[[Any], tuple[Any, str]]] | None:
    """Each column's cell maker (the row -> its text and class attribute); None if a column is of a kind drawn
    here only by Django (a relation, a model method, a callable)."""
    admin, opts = cl.model_admin, cl.model._meta
    empty = admin.get_empty_value_display()
    columns = []
    for name in cl.list_display:
        if not isinstance(name, str):
            return None
        classes = f"field-{name}"
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:
            if name == "__str__" or not callable(getattr(admin, name, None)):
                return None
            columns.append(_method_cell(getattr(admin, name), empty, classes))
            continue
        if field.is_relation:
            return None
        if field.auto_created:
            columns.append(_method_cell(lambda row, attname=field.attname: getattr(row, attname), empty, classes))
        else:
            columns.append(_field_cell(field, empty, classes))
    return columns


def _row(row, columns, url: str) -> Iterator[SafeString]:
    first, *rest = columns
    text, classes = first(row)
    yield mark_safe(f'<th class="{classes}"><a href="{escape(url)}">{conditional_escape(text)}</a></th>')
    for cell in rest:
        text, classes = cell(row)
        yield mark_safe(f'<td class="{classes}">{conditional_escape(text)}</td>')


def log_results(cl) -> list[ResultList]:
    """The list's rows, as Django's `results(cl)` gives them."""
    columns = None if _drawn_by_django(cl) else _columns(cl)
    if columns is None:
        return list(results(cl))
    marked = cl.url_for_result(SimpleNamespace(**{cl.lookup_opts.pk.attname: PK_MARK}))
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, marked)
    before, _, after = url.partition(PK_MARK)
    pk = cl.lookup_opts.pk.attname
    return [ResultList(None, _row(row, columns, f"{before}{quote(getattr(row, pk))}{after}"))
            for row in cl.result_list]
