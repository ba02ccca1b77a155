"""The Content-Security-Policy header: django-csp's middleware, with the policy built once for the answers that
change nothing of it."""

import functools

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase

# What a view may set on its answer (django-csp's decorators) to change the policy of that answer alone.
PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")


@functools.cache
def _settings_policies() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """(header, policy, the answer's exemption attribute, excluded path prefixes) for the enforced and the
    report-only policy, as the settings alone make them."""
    policies = []
    for header, report_only, exempt, setting in ((HEADER, False, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
                                                 (HEADER_REPORT_ONLY, True, "_csp_exempt_ro",
                                                  "CONTENT_SECURITY_POLICY_REPORT_ONLY")):
        policy = build_policy(report_only=report_only)
        if policy:
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
            policies.append((header, policy, exempt, tuple(prefixes)))
    return tuple(policies)


def _forget_policies(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policies.cache_clear()


setting_changed.connect(_forget_policies, dispatch_uid="kit.csp")


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware. An answer with no nonce and no per-view policy (every API answer) gets the
    header built once from the settings: building it for each answer took about 5% of a send's CPU. Any
    other answer, and every answer under DEBUG, goes through django-csp as it is."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (settings.DEBUG or getattr(request, "_csp_nonce", None) is not None
                or any(hasattr(response, name) for name in PER_RESPONSE)):
            return super().process_response(request, response)
        for header, policy, exempt, prefixes in _settings_policies():
            if (header not in response and getattr(response, exempt, False) is False
                    and not request.path_info.startswith(prefixes)):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent miss.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
