"""`{% log_result_list cl %}`: the delivery log's list table, Django's `{% result_list %}` with rows drawn by
logs_app/admin_rows.py (the same template, headers and HTML)."""

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_hidden_fields
from django.contrib.admin.templatetags.base import InclusionAdminNode

from logs_app.admin_rows import log_results

register = template.Library()


def log_result_list(cl) -> dict:
    headers = list(result_headers(cl))
    return {"cl": cl, "result_hidden_fields": list(result_hidden_fields(cl)), "result_headers": headers,
            "num_sorted_fields": sum(1 for header in headers if header["sortable"] and header["sorted"]),
            "results": log_results(cl)}


@register.tag(name="log_result_list")
def log_result_list_tag(parser, token):
    return InclusionAdminNode(parser, token, func=log_result_list, template_name="change_list_results.html",
                              takes_context=False)
