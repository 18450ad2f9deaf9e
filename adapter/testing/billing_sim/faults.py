"""Fault injection: what the simulator is told to do instead of (or before) answering.

A *fault plan* is a JSON (or YAML) document, set through ``PUT /admin/faults`` or read from the
file given at start (``POST /admin/faults/reload`` reads it again)::

    {
      "latency_ms": 0, "latency_jitter_ms": 0,        # every SOAP request, before anything
      "error_rate": 0.0, "error_kind": "http500",     # that share of requests fails so
      "error_fault": {"code": "...", "message": "..."},  # when error_kind is cms_fault
      "seed": null,                                    # repeatable random choices
      "rules": [ {"kind": ..., "operation": ..., "times": ..., "rate": ..., ...} ]
    }

Rules are tried in order for each SOAP request. Every ``latency`` rule that matches adds its
delay; then the first other rule that matches fires, and the request gets that instead of its
answer. ``operation`` (a name or a list of names from cil.wsdl) limits a rule to those
operations; ``times`` to that many firings; ``rate`` (0..1) to that share of the requests it
matches. See docs/legacy-interface.md for every kind.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .codes import FaultCode
from .soap import OPERATIONS

LATENCY = "latency"
TERMINAL_KINDS = (
    "cms_fault",  # soap:Server (or Client) fault with the given cmsFault code and message
    "http500",  # HTTP 500, a SOAP fault without cmsFault detail
    "http503",  # HTTP 503 Service Unavailable (HTML), optional Retry-After
    "html404",  # HTTP 404 with an HTML page, as a misrouted proxy answers
    "truncated",  # the request runs; the response stops halfway and the connection closes
    "hang",  # no answer for `seconds` (bounded), then the connection closes; not executed
    "drop",  # the connection closes without an answer (executed first with "execute": true)
    "refuse",  # like drop, then new connections are refused for `seconds`
)
KINDS = (LATENCY, *TERMINAL_KINDS)
TOP_KEYS = frozenset(
    {"latency_ms", "latency_jitter_ms", "error_rate", "error_kind", "error_fault", "seed", "rules"}
)
RULE_KEYS = frozenset(
    {
        "kind",
        "operation",
        "times",
        "rate",
        "ms",
        "jitter_ms",
        "fault",
        "seconds",
        "retry_after",
        "execute",
    }
)
DEFAULT_HANG_SECONDS = 60.0
DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 120.0
MAX_LATENCY_MS = 600_000


class FaultPlanError(ValueError):
    """A fault plan that cannot be used; the message names the place (``rules[1].times``)."""


@dataclass(frozen=True)
class InjectedFault:
    code: str
    message: str
    faultcode: FaultCode = "Server"
    parameters: tuple[str, ...] = ()


@dataclass
class Rule:
    kind: str
    operations: frozenset[str] | None = None
    times: int | None = None
    rate: float = 1.0
    ms: int = 0
    jitter_ms: int = 0
    fault: InjectedFault | None = None
    seconds: float = 0.0
    retry_after: int | None = None
    execute: bool = False
    fired: int = 0
    document: dict[str, Any] = field(default_factory=dict)  # as given, for GET
    implicit: bool = False  # made from latency_ms / error_rate, not listed under rules

    def applies_to(self, operation: str | None) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        return self.operations is None or operation in self.operations


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait ``delay`` seconds, then ``rule`` (None: answer)."""

    delay: float = 0.0
    rule: Rule | None = None


NO_FAULT = Decision()


def read_plan_file(path: Path) -> dict[str, Any]:
    """A fault plan from a ``.json``, ``.yaml`` or ``.yml`` file (any other name: JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultPlanError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise FaultPlanError(f"{path}: not valid {path.suffix or 'JSON'}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FaultPlanError(f"{path}: the plan must be an object (a mapping)")
    return data


class FaultInjector:
    """The current fault plan, its counters, and the decision for each request."""

    def __init__(self, max_hang_seconds: float, plan_file: Path | None = None) -> None:
        self.max_hang_seconds = max_hang_seconds
        self.plan_file = plan_file
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._document: dict[str, Any] = {}
        self._source = "none"
        self._random = random.Random()  # noqa: S311 - chance, not secrets
        self._down_until = 0.0
        self.injected: Counter[str] = Counter()

    # -------------------------------------------------------------------- the plan

    def set_plan(self, document: Mapping[str, Any], source: str = "api") -> None:
        """Replace the plan (and reset every counter); invalid plans leave the old one."""
        rules, seed = self._compile(document)
        with self._lock:
            self._rules = rules
            self._document = json.loads(json.dumps(dict(document), default=str))
            self._source = source
            self._random = random.Random(seed)  # noqa: S311
            self._down_until = 0.0
            self.injected.clear()

    def clear(self) -> None:
        self.set_plan({}, source="none")

    def reload(self) -> None:
        """Read the plan file again (the one given at start)."""
        if self.plan_file is None:
            raise FaultPlanError("the simulator was started without a fault plan file")
        self.set_plan(read_plan_file(self.plan_file), source=f"file:{self.plan_file}")

    def describe(self) -> dict[str, Any]:
        """The plan as given, with each rule's firings and what is left of its ``times``."""
        with self._lock:
            doc = dict(self._document)
            explicit = [r for r in self._rules if not r.implicit]
            doc["rules"] = [
                {
                    **r.document,
                    "fired": r.fired,
                    "remaining": None if r.times is None else max(r.times - r.fired, 0),
                }
                for r in explicit
            ]
            down = max(self._down_until - time.monotonic(), 0.0)
            return {
                **doc,
                "source": self._source,
                "plan_file": str(self.plan_file) if self.plan_file else None,
                "injected": dict(self.injected),
                "refusing_for_seconds": round(down, 3),
            }

    # ------------------------------------------------------------------ decisions

    def decide(self, operation: str | None) -> Decision:
        """What the next request for ``operation`` gets; counts the rules that fire."""
        with self._lock:
            if time.monotonic() < self._down_until:
                self.injected["refused"] += 1
                return Decision(0.0, Rule(kind="drop"))
            delay = 0.0
            for rule in self._rules:
                if not rule.applies_to(operation) or not self._chance(rule.rate):
                    continue
                if rule.kind == LATENCY:
                    jitter = self._random.uniform(0, rule.jitter_ms) if rule.jitter_ms else 0.0
                    delay += (rule.ms + jitter) / 1000
                    rule.fired += 1
                    continue
                rule.fired += 1
                self.injected[rule.kind] += 1
                if rule.kind == "refuse":
                    self._down_until = time.monotonic() + rule.seconds
                return Decision(delay, rule)
            if delay:
                self.injected[LATENCY] += 1
            return Decision(delay, None) if delay else NO_FAULT

    def _chance(self, rate: float) -> bool:
        return rate >= 1.0 or self._random.random() < rate

    # ------------------------------------------------------------------ checking

    def _compile(self, document: Mapping[str, Any]) -> tuple[list[Rule], int | None]:
        if not isinstance(document, Mapping):
            raise FaultPlanError("the fault plan must be a JSON object")
        unknown = set(document) - TOP_KEYS
        if unknown:
            raise FaultPlanError(f"unknown key(s) {sorted(unknown)}; known: {sorted(TOP_KEYS)}")
        seed = document.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise FaultPlanError("seed: must be an integer or null")
        rules: list[Rule] = []
        latency = _number(document, "latency_ms", "latency_ms", 0, MAX_LATENCY_MS)
        jitter = _number(document, "latency_jitter_ms", "latency_jitter_ms", 0, MAX_LATENCY_MS)
        if latency or jitter:
            rules.append(Rule(kind=LATENCY, ms=int(latency), jitter_ms=int(jitter), implicit=True))
        raw_rules = document.get("rules", [])
        if not isinstance(raw_rules, list):
            raise FaultPlanError("rules: must be a list")
        rules.extend(self._rule(raw, f"rules[{i}]") for i, raw in enumerate(raw_rules))
        rate = _number(document, "error_rate", "error_rate", 0, 1)
        error_kind = document.get("error_kind", "http500")
        if error_kind not in TERMINAL_KINDS:
            raise FaultPlanError(
                f"error_kind: {error_kind!r} is not one of {', '.join(TERMINAL_KINDS)}"
            )
        # Checked even while the rate is 0, so that a mistake shows when the plan is set.
        implicit: dict[str, Any] = {"kind": error_kind, "rate": rate}
        if "error_fault" in document:
            implicit["fault"] = document["error_fault"]
        rule = self._rule(implicit, "error_kind")
        if rate:
            rule.implicit = True
            rules.append(rule)
        return rules, seed

    def _rule(self, raw: Any, where: str) -> Rule:
        if not isinstance(raw, Mapping):
            raise FaultPlanError(f"{where}: must be an object")
        unknown = set(raw) - RULE_KEYS
        if unknown:
            raise FaultPlanError(f"{where}: unknown key(s) {sorted(unknown)}")
        kind = raw.get("kind", "cms_fault" if "fault" in raw else None)
        if kind not in KINDS:
            raise FaultPlanError(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        rule = Rule(kind=kind, document=dict(raw))
        rule.operations = _operations(raw.get("operation"), f"{where}.operation")
        if raw.get("times") is not None:
            rule.times = _integer(raw, "times", f"{where}.times", 1, 10**9)
        rule.rate = _number(raw, "rate", f"{where}.rate", 0, 1, default=1.0)
        if kind == LATENCY:
            rule.ms = int(_number(raw, "ms", f"{where}.ms", 0, MAX_LATENCY_MS))
            rule.jitter_ms = int(_number(raw, "jitter_ms", f"{where}.jitter_ms", 0, MAX_LATENCY_MS))
        elif kind == "cms_fault":
            rule.fault = _fault(raw.get("fault"), f"{where}.fault")
        elif kind == "hang":
            rule.seconds = _number(
                raw,
                "seconds",
                f"{where}.seconds",
                0,
                self.max_hang_seconds,
                default=min(DEFAULT_HANG_SECONDS, self.max_hang_seconds),
            )
        elif kind == "refuse":
            rule.seconds = _number(
                raw,
                "seconds",
                f"{where}.seconds",
                0,
                MAX_REFUSE_SECONDS,
                default=DEFAULT_REFUSE_SECONDS,
            )
        elif kind == "http503" and raw.get("retry_after") is not None:
            rule.retry_after = _integer(raw, "retry_after", f"{where}.retry_after", 0, 86400)
        if kind == "drop":
            execute = raw.get("execute", False)
            if not isinstance(execute, bool):
                raise FaultPlanError(f"{where}.execute: must be true or false")
            rule.execute = execute
        misplaced = {
            "ms": LATENCY,
            "jitter_ms": LATENCY,
            "fault": "cms_fault",
            "retry_after": "http503",
            "execute": "drop",
        }
        for key, owner in misplaced.items():
            if key in raw and kind != owner:
                raise FaultPlanError(f"{where}.{key}: only for kind {owner}")
        if "seconds" in raw and kind not in {"hang", "refuse"}:
            raise FaultPlanError(f"{where}.seconds: only for kinds hang and refuse")
        return rule


def _number(
    doc: Mapping[str, Any],
    key: str,
    where: str,
    low: float,
    high: float,
    default: float = 0.0,
) -> float:
    value = doc.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultPlanError(f"{where}: must be a number, not {value!r}")
    if not low <= value <= high:
        raise FaultPlanError(f"{where}: {value} is outside {low}..{high}")
    return float(value)


def _integer(doc: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FaultPlanError(f"{where}: must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise FaultPlanError(f"{where}: {value} is outside {low}..{high}")
    return value


def _operations(value: Any, where: str) -> frozenset[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise FaultPlanError(f"{where}: an operation name or a non-empty list of names")
    unknown = [n for n in names if n not in OPERATIONS]
    if unknown:
        raise FaultPlanError(
            f"{where}: unknown operation(s) {unknown}; known: {', '.join(OPERATIONS)}"
        )
    return frozenset(names)


def _fault(value: Any, where: str) -> InjectedFault:
    if not isinstance(value, Mapping):
        raise FaultPlanError(f"{where}: an object with code and message is needed")
    unknown = set(value) - {"code", "message", "faultcode", "parameters"}
    if unknown:
        raise FaultPlanError(f"{where}: unknown key(s) {sorted(unknown)}")
    code = value.get("code")
    if not isinstance(code, str) or not 0 < len(code) <= 64:
        raise FaultPlanError(f"{where}.code: a text of 1 to 64 characters")
    message = value.get("message", "injected fault")
    if not isinstance(message, str) or not message:
        raise FaultPlanError(f"{where}.message: a non-empty text")
    faultcode = value.get("faultcode", "Server")
    if faultcode not in ("Server", "Client"):
        raise FaultPlanError(f"{where}.faultcode: Server or Client")
    parameters = value.get("parameters", [])
    if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
        raise FaultPlanError(f"{where}.parameters: a list of texts")
    return InjectedFault(code, message, faultcode, tuple(parameters))
