"""Strategies: what to do with a customer of a given label, as data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from customer_rules.lang.policy import Text


class Cadence(BaseModel):
    """How often to contact: every ``min_days`` to ``max_days`` days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_days: float = Field(gt=0, description="shortest gap between contacts, days")
    max_days: float = Field(gt=0, description="longest gap between contacts, days")

    @model_validator(mode="after")
    def _ordered(self) -> Cadence:
        if self.max_days < self.min_days:
            raise ValueError(f"max_days ({self.max_days}) is below min_days ({self.min_days})")
        return self

    def describe(self, lang: str = "en") -> str:
        lo, hi = _num(self.min_days), _num(self.max_days)
        span = lo if lo == hi else f"{lo}–{hi}"
        return f"每 {span} 天" if lang == "zh" else f"every {span} days"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


class Strategy(BaseModel):
    """How to treat customers of one label.

    ``summary`` in a sentence, ``actions`` to take, things to ``avoid``, a
    contact ``cadence``, an ``escalation`` level (0 none … 3 top management /
    crisis team) and free-form ``flags`` (e.g. ``compliance_risk``). Every
    text is bilingual (``en`` and ``zh``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    summary: Text
    actions: tuple[Text, ...] = ()
    avoid: tuple[Text, ...] = ()
    cadence: Cadence | None = None
    escalation: int = Field(default=0, ge=0, le=3)
    flags: tuple[str, ...] = ()
    extra: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="scheme-specific data, e.g. a colour marker"
    )

    def texts(self) -> list[Text]:
        return [self.summary, *self.actions, *self.avoid]

    def render(self, lang: str = "en") -> str:
        """The strategy in words: the summary, then what to do and to avoid,
        each list one sentence (items joined by ``；``/``; `` without their
        own full stops), the cadence and the escalation level."""
        from customer_rules.model.explanation import join, sentence

        zh = lang == "zh"
        lines = [self.summary.get(lang)]
        if self.actions:
            lines.append(("做：" if zh else "Do: ") + sentence(join((a.get(lang) for a in self.actions), lang), lang))
        if self.avoid:
            lines.append(("避免：" if zh else "Avoid: ") + sentence(join((a.get(lang) for a in self.avoid), lang), lang))
        if self.cadence:
            lines.append(("联系频率：" if zh else "Contact: ") + self.cadence.describe(lang))
        if self.escalation:
            lines.append(("升级级别：" if zh else "Escalation level: ") + str(self.escalation))
        return "\n".join(lines)
