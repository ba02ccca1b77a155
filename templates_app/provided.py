"""Variables the service fills in itself, so that no caller passes them: `{{ preferences_url }}` in an email.

The app that owns a value registers it from its AppConfig.ready() (consent_app registers the user's
preference page), so this module imports no app above it. A send's text is rendered once for all its
recipients and kept in each log, so a value that differs per user cannot be rendered then: the render puts
in a marker, and the delivery stage puts each user's value in its place as the message leaves
(`provided_fill`). The log keeps the marker, not the value, so reading a log gives nobody the working link
of the user it was sent to.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from html import escape

from .rendering import HTML_PART, RenderedMessage


@dataclass(frozen=True)
class ProvidedVariable:
    name: str
    types: frozenset[str]  # the template types whose renders get it
    value_for: Callable[[int], str]  # the user id -> the value sent to that user
    description: str

    @property
    def marker(self) -> str:
        """What the render puts in the text: survives autoescaping and reads, in a log, as what it stands for."""
        return "{{" + self.name + "}}"


_REGISTERED: dict[str, ProvidedVariable] = {}


def provided_variable_register(*, name: str, types: Iterable[str], value_for: Callable[[int], str],
                               description: str) -> None:
    """Let templates of `types` use `{{ name }}` without declaring it or the caller passing it; each
    message gets `value_for(user_id)` as it is sent. Registering a name again replaces it."""
    _REGISTERED[name] = ProvidedVariable(name=name, types=frozenset(types), value_for=value_for,
                                         description=description)


def provided_variables_all() -> list[ProvidedVariable]:
    """Every registered variable, by name."""
    return [_REGISTERED[name] for name in sorted(_REGISTERED)]


def provided_variables(template_type: str) -> dict[str, ProvidedVariable]:
    """The variables the service provides to templates of `template_type`, by name."""
    return {name: found for name, found in _REGISTERED.items() if template_type in found.types}


def provided_context(template_type: str) -> dict[str, str]:
    """What a render of a `template_type` template gets for each provided variable: its marker. It wins over
    a caller's context value of the same name, so the link in an email is always the service's own."""
    return {name: found.marker for name, found in provided_variables(template_type).items()}


def provided_fill(rendered: RenderedMessage, *, user_id: int) -> RenderedMessage:
    """The message as `user_id` receives it: each registered marker replaced with the user's value, escaped
    in the HTML body as the autoescaping render would have (a value is made only when its marker is there)."""
    parts = {"subject": rendered.subject, "body": rendered.body, HTML_PART: rendered.html_body}
    for found in _REGISTERED.values():
        if not any(text and found.marker in text for text in parts.values()):
            continue
        value = found.value_for(user_id)
        parts = {field: text.replace(found.marker, escape(value) if field == HTML_PART else value) if text else text
                 for field, text in parts.items()}
    return replace(rendered, **parts)
