"""SMS templates: our template ids mapped to provider templates approved in advance.

Chinese SMS providers only send pre-approved templates: the provider keeps the text with named
variables and we send (sign name, template code, parameter values). A body here is that exact
text, so it may hold only plain ``{{ name }}`` placeholders; a filter, condition or loop would make
our rendered text (used for segment counting, the simulator and the audit trail) differ from what
the provider actually delivers. Parameters are checked the way a provider checks them, so a
message a provider would reject fails here first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, cast, get_args
from zoneinfo import ZoneInfo

import yaml
from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.notification.domain.segments import segment_count

Audience = Literal["citizen", "department"]

SIGNATURE_MIN_LENGTH = 2
SIGNATURE_MAX_LENGTH = 20
# Brackets would let a value pose as a second signature; providers reject them.
_FORBIDDEN_IN_PARAMS = frozenset("【】")


class TemplateError(ValueError):
    """Base class: the message could not be rendered as a provider would accept it."""


class CatalogError(TemplateError):
    """The template file itself is invalid."""


class UnknownTemplateError(TemplateError, LookupError):
    def __init__(self, template_id: str) -> None:
        super().__init__(f"unknown SMS template {template_id!r}")
        self.template_id = template_id


class InvalidSignatureError(TemplateError):
    pass


class ParameterError(TemplateError):
    """A parameter is missing, unexpected, too long or not acceptable to the provider."""

    def __init__(self, template_id: str, name: str, problem: str) -> None:
        super().__init__(f"SMS template {template_id!r}: parameter {name!r} {problem}")
        self.template_id = template_id
        self.name = name


class MissingParameterError(ParameterError):
    pass


class UnexpectedParameterError(ParameterError):
    pass


class ParameterTooLongError(ParameterError):
    def __init__(self, template_id: str, name: str, length: int, max_length: int) -> None:
        super().__init__(template_id, name, f"is {length} characters long, the limit is {max_length}")
        self.length = length
        self.max_length = max_length


class InvalidParameterError(ParameterError):
    pass


@dataclass(frozen=True)
class ParamSpec:
    name: str
    max_length: int


@dataclass(frozen=True)
class SmsTemplate:
    id: str
    title: str
    audience: Audience
    provider_code: str
    body: str
    params: tuple[ParamSpec, ...]

    @property
    def param_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params)


@dataclass(frozen=True)
class RenderedSms:
    """What the phone shows (`text`) and what the provider API takes (the other fields)."""

    text: str
    template_code: str
    params: dict[str, str] = field(hash=False)
    segments: int
    template_id: str
    sign_name: str


def normalize_signature(signature: str) -> str:
    """Return the bare sign name (``昆都仑区综治中心``); ``【…】`` around it is accepted."""
    name = signature.strip()
    if name.startswith("【") and name.endswith("】"):
        name = name[1:-1]
    if not SIGNATURE_MIN_LENGTH <= len(name) <= SIGNATURE_MAX_LENGTH:
        raise InvalidSignatureError(
            f"SMS signature {signature!r} must be {SIGNATURE_MIN_LENGTH}–{SIGNATURE_MAX_LENGTH} characters"
        )
    if any(c in _FORBIDDEN_IN_PARAMS or c.isspace() or unicodedata.category(c) == "Cc" for c in name):
        raise InvalidSignatureError(
            f"SMS signature {signature!r} contains brackets, spaces or control characters"
        )
    return name


class TemplateCatalog:
    """A validated set of templates, rendered in a sandbox with strict undefined handling."""

    def __init__(self, templates: Iterable[SmsTemplate]) -> None:
        # Autoescape off: SMS is plain text, HTML escaping would corrupt it.
        self._env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._templates: dict[str, SmsTemplate] = {}
        codes: dict[str, str] = {}
        for template in templates:
            if template.id in self._templates:
                raise CatalogError(f"duplicate SMS template id {template.id!r}")
            if template.provider_code in codes:
                raise CatalogError(
                    f"SMS templates {codes[template.provider_code]!r} and {template.id!r} share "
                    f"provider code {template.provider_code!r}"
                )
            self._check_body(template)
            self._templates[template.id] = template
            codes[template.provider_code] = template.id
        self._compiled = {t.id: self._env.from_string(t.body) for t in self._templates.values()}

    def _check_body(self, template: SmsTemplate) -> None:
        try:
            tree = self._env.parse(template.body)
        except TemplateSyntaxError as exc:
            raise CatalogError(f"SMS template {template.id!r}: {exc}") from exc
        used: set[str] = set()
        for node in tree.body:
            children = node.nodes if isinstance(node, nodes.Output) else [node]
            for child in children:
                if isinstance(child, nodes.Name):
                    used.add(child.name)
                elif not isinstance(child, nodes.TemplateData):
                    raise CatalogError(
                        f"SMS template {template.id!r} may only use plain {{{{ name }}}} placeholders, "
                        f"found {type(child).__name__}"
                    )
        declared = template.param_names
        if used != declared:
            raise CatalogError(
                f"SMS template {template.id!r}: placeholders {sorted(used)} do not match "
                f"declared parameters {sorted(declared)}"
            )

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._templates

    def __iter__(self) -> Iterator[SmsTemplate]:
        return iter(self._templates.values())

    def __len__(self) -> int:
        return len(self._templates)

    def get(self, template_id: str) -> SmsTemplate:
        try:
            return self._templates[template_id]
        except KeyError:
            raise UnknownTemplateError(template_id) from None

    def render(self, template_id: str, params: Mapping[str, object], signature: str) -> RenderedSms:
        template = self.get(template_id)
        sign_name = normalize_signature(signature)
        values = _validate_params(template, params)
        body = self._compiled[template_id].render(**values)
        text = f"【{sign_name}】{body}"
        return RenderedSms(
            text=text,
            template_code=template.provider_code,
            params=values,
            segments=segment_count(text),
            template_id=template_id,
            sign_name=sign_name,
        )

    def provider_text(self, template_id: str, placeholder: str = "${{{name}}}") -> str:
        """The body in the provider's own placeholder syntax (Aliyun ``${name}`` by default)."""
        template = self.get(template_id)
        return self._compiled[template_id].render(
            **{p.name: placeholder.format(name=p.name) for p in template.params}
        )


def _validate_params(template: SmsTemplate, params: Mapping[str, object]) -> dict[str, str]:
    unexpected = sorted(set(params) - template.param_names)
    if unexpected:
        raise UnexpectedParameterError(template.id, unexpected[0], "is not a parameter of this template")
    values: dict[str, str] = {}
    for spec in template.params:
        if spec.name not in params or params[spec.name] is None:
            raise MissingParameterError(template.id, spec.name, "is missing")
        raw = params[spec.name]
        # bool is an int, but "True" in an SMS is always a bug.
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise InvalidParameterError(template.id, spec.name, f"must be text, got {type(raw).__name__}")
        value = str(raw).strip()
        if not value:
            raise MissingParameterError(template.id, spec.name, "is empty")
        if any(c in _FORBIDDEN_IN_PARAMS or unicodedata.category(c) == "Cc" for c in value):
            raise InvalidParameterError(template.id, spec.name, "contains 【】 or control characters")
        if len(value) > spec.max_length:
            raise ParameterTooLongError(template.id, spec.name, len(value), spec.max_length)
        values[spec.name] = value
    return values


def parse_catalog(yaml_text: str) -> TemplateCatalog:
    """Build a catalog from the YAML format of ``templates/sms.yaml``."""
    try:
        document = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"SMS template file is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("templates"), dict):
        raise CatalogError("SMS template file must be a mapping with a 'templates' mapping")
    if document.get("version") != 1:
        raise CatalogError(f"unsupported SMS template file version {document.get('version')!r}")
    return TemplateCatalog(_parse_template(tid, entry) for tid, entry in document["templates"].items())


def _parse_template(template_id: object, entry: object) -> SmsTemplate:
    if not isinstance(template_id, str) or not isinstance(entry, dict):
        raise CatalogError(f"SMS template {template_id!r} must be a mapping")

    def text(key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogError(f"SMS template {template_id!r}: {key!r} must be non-empty text")
        return value.strip()

    audience = text("audience")
    if audience not in get_args(Audience):
        raise CatalogError(f"SMS template {template_id!r}: audience must be one of {get_args(Audience)}")
    raw_params = entry.get("params")
    if not isinstance(raw_params, dict) or not raw_params:
        raise CatalogError(f"SMS template {template_id!r}: 'params' must be a non-empty mapping")
    params = tuple(_parse_param(template_id, name, spec) for name, spec in raw_params.items())
    return SmsTemplate(
        id=template_id,
        title=text("title"),
        audience=cast(Audience, audience),
        provider_code=text("provider_code"),
        body=text("body"),
        params=params,
    )


def _parse_param(template_id: str, name: object, spec: Any) -> ParamSpec:
    max_length = spec.get("max_length") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not name.isidentifier():
        raise CatalogError(f"SMS template {template_id!r}: parameter name {name!r} is not an identifier")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise CatalogError(f"SMS template {template_id!r}: parameter {name!r} needs a positive max_length")
    return ParamSpec(name=name, max_length=max_length)


@lru_cache(maxsize=1)
def load_default_catalog() -> TemplateCatalog:
    """The packaged ``services/notification/templates/sms.yaml``, read on first use."""
    source = resources.files("services.notification.templates").joinpath("sms.yaml")
    return parse_catalog(source.read_text(encoding="utf-8"))


def render(
    template_id: str,
    params: Mapping[str, object],
    signature: str,
    *,
    catalog: TemplateCatalog | None = None,
) -> RenderedSms:
    """Render with `catalog`, or with the packaged templates when none is given."""
    return (catalog or load_default_catalog()).render(template_id, params, signature)


def format_deadline(moment: datetime, timezone: str = "Asia/Shanghai") -> str:
    """Local business time as citizens read it, e.g. ``2026年12月1日17:30`` (at most 16 characters)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("format_deadline needs an aware datetime (timestamps are stored in UTC)")
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}"
