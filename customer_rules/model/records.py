"""Customer records: frozen pydantic v2 models.

A record is what a firm knows about one customer.  Every leaf is optional
(``None`` = not observed / unknown, never a silent 0 or ``False``) except the
customer ``id`` and the few fields that identify an event (a case's id and
opening date, a deduction's date and points, an interaction's date).

Leaf types are deliberately limited to what the expression type-checker
understands: ``int``, ``float``, ``bool``, ``str``, ``datetime.date``,
``Literal`` enums of strings and the ordinal :data:`Level` (0 none, 1 low,
2 medium, 3 high), each wrapped in ``X | None``; collections are tuples of
those or of sub-models.  Each field carries an English description and,
where it has one, a unit in its JSON-schema extras (``"unit"``).  Behaviour
signals also list the labels they point to (``"indicates"``, e.g.
``"nine_types:rational"``) so schemes and docs can discover them. Display
names (``"names": {"en": ..., "zh": ...}``) go in the same extras, through
:func:`record_field` — the one way core and plugin fields declare theirs.

The record is open: :func:`extend_record` builds a per-engine subclass of
:class:`Customer` with the namespaces plugins register
(``register_record_fields``). Cross-field rules are declared, not coded
(:class:`NotBefore`, :class:`UniqueItems`), so the table path checks them
column-wise from the same declaration.
"""

from __future__ import annotations

import keyword
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, TypeVar, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from customer_rules.errors import PluginError

__all__ = [
    "Behaviour",
    "BudgetStatus",
    "Case",
    "Compliance",
    "Customer",
    "CustomerKind",
    "Deal",
    "Deduction",
    "Grade",
    "Identity",
    "Interaction",
    "InteractionKind",
    "Lead",
    "Level",
    "NotBefore",
    "Satisfaction",
    "Severity",
    "Sociability",
    "SpeechPace",
    "UniqueItems",
    "Value",
    "extend_record",
    "record_field",
    "unbounded_whole_numbers",
]

# --------------------------------------------------------------------------
# Leaf aliases
# --------------------------------------------------------------------------

Level = Annotated[int, Field(ge=0, le=3)]
"""Ordinal signal strength: 0 none, 1 low, 2 medium, 3 high."""

Identity = Literal[
    "media",
    "journalist",
    "lawyer",
    "regulator",
    "government",
    "police",
    "consumer_association",
    "celebrity",
    "official",
    "taxi_driver",
    "fleet",
]
"""Sensitive identities that escalate a complaint (satisfaction overlay F)."""

CustomerKind = Literal["person", "company", "retailer", "terminal"]
SpeechPace = Literal["fast", "slow"]
Sociability = Literal["strong", "weak"]
BudgetStatus = Literal["approved", "pending", "none"]
Severity = Literal["minor", "major", "key_part"]
InteractionKind = Literal["visit", "call", "message", "greeting"]

# What people call the values of these enums, (en, zh), for explanations.
IDENTITY_NAMES = {
    "media": ("media", "媒体"),
    "journalist": ("journalist", "记者"),
    "lawyer": ("lawyer", "律师"),
    "regulator": ("regulator", "监管部门"),
    "government": ("government", "政府机关"),
    "police": ("police", "公安"),
    "consumer_association": ("consumer association", "消协"),
    "celebrity": ("celebrity", "名人"),
    "official": ("official", "政府要员"),
    "taxi_driver": ("taxi driver", "出租车司机"),
    "fleet": ("fleet", "车队"),
}
KIND_NAMES = {
    "person": ("person", "个人"),
    "company": ("company", "企业"),
    "retailer": ("retailer", "零售户"),
    "terminal": ("retail terminal", "零售终端"),
}
SPEECH_PACE_NAMES = {"fast": ("fast", "快"), "slow": ("slow", "慢")}
SOCIABILITY_NAMES = {"strong": ("strong", "强"), "weak": ("weak", "弱")}
BUDGET_STATUS_NAMES = {"approved": ("approved", "已批准"), "pending": ("pending", "待定"), "none": ("none", "没有预算")}
SEVERITY_NAMES = {"minor": ("minor", "一般"), "major": ("major", "严重"), "key_part": ("key part failure", "关键部件故障")}
INTERACTION_KIND_NAMES = {
    "visit": ("visit", "拜访"),
    "call": ("call", "电话"),
    "message": ("message", "消息"),
    "greeting": ("greeting", "问候"),
}

# Every model uses the same configuration: immutable, no unknown keys, and no
# NaN/inf floats (a NaN would make every comparison in a rule silently false).
_CONFIG = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

_LEVEL = "level 0-3"

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Whole numbers in a record fit in 64 bits (a table column is ``Int64``):
every ``int`` field is bounded within this range."""


def record_field(
    description: str,
    *,
    en: str | None = None,
    zh: str | None = None,
    unit: str | None = None,
    indicates: tuple[str, ...] = (),
    values: Mapping[str, tuple[str, str]] | None = None,
    default: Any = None,
    **constraints: Any,
) -> Any:
    """A record field: default ``None`` (unknown) unless ``default`` says
    (``...`` = required; ``default_factory=`` also works), documented.

    ``description`` says what the field means; ``en`` and ``zh`` are its
    display names (explanations name the field with them); ``unit`` is its
    unit where it has one (``"CNY"``, ``"days"``, ``"level 0-3"``);
    ``indicates`` lists the labels a signal points to; ``values`` names the
    values of a ``Literal`` field, ``{value: (en, zh)}``. They go into the
    field's JSON-schema extras (``names``, ``unit``, ``indicates``, ``values``), which
    is where :mod:`customer_rules.lang.types` reads them. ``constraints``
    are pydantic's (``ge=0``, ``le=100``, ...). Use it for the fields of a
    model returned by ``register_record_fields``::

        class Ward(BaseModel):
            model_config = ConfigDict(frozen=True, extra="forbid")
            beds: int | None = record_field("Beds in the ward.", en="beds", zh="床位数",
                                            unit="count", ge=0, le=1000)
    """
    extra: dict[str, Any] = {}
    if unit is not None:
        extra["unit"] = unit
    if indicates:
        extra["indicates"] = list(indicates)
    names = {k: v for k, v in (("en", en), ("zh", zh)) if v is not None}
    if names:
        extra["names"] = names
    if values:
        extra["values"] = {v: {"en": e, "zh": z} for v, (e, z) in values.items()}
    if "default_factory" not in constraints:
        constraints["default"] = default
    return Field(description=description, json_schema_extra=extra or None, **constraints)


def _opt(
    description: str,
    unit: str | None = None,
    indicates: tuple[str, ...] = (),
    *,
    en: str,
    zh: str,
    values: Mapping[str, tuple[str, str]] | None = None,
    **constraints: Any,
) -> Any:
    """A core optional field (see :func:`record_field`): display names required."""
    return record_field(description, en=en, zh=zh, unit=unit, indicates=indicates, values=values, **constraints)


# --------------------------------------------------------------------------
# Cross-field rules, declared so the table path can check them column-wise
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class NotBefore:
    """Field ``later`` is not before field ``earlier`` when both are known.

    ``message`` is a :meth:`str.format` template over ``{earlier}`` and
    ``{later}`` (the two dates, ISO) and any other field of the model by
    name (``{id!r}``).
    """

    earlier: str
    later: str
    message: str

    def fields(self) -> list[tuple[str, str | None]]:
        """The template's placeholders: (field name, conversion), in order."""
        return [(f, c) for _, f, _, c in string.Formatter().parse(self.message) if f is not None]


@dataclass(frozen=True)
class UniqueItems:
    """No two items of the list field ``items`` share the value of ``key``.

    ``message`` is a template over ``{value}`` (the repeated key).
    """

    items: str
    key: str
    message: str


class _Rules(BaseModel):
    """Runs the declared cross-field rules of a record model (``rules``)."""

    rules: ClassVar[tuple[NotBefore | UniqueItems, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Any:
        for rule in type(self).rules:
            if isinstance(rule, NotBefore):
                a: date | None = getattr(self, rule.earlier)
                b: date | None = getattr(self, rule.later)
                if a is not None and b is not None and b < a:
                    values = {n: getattr(self, n) for n, _ in rule.fields() if n not in ("earlier", "later")}
                    raise ValueError(rule.message.format(earlier=a.isoformat(), later=b.isoformat(), **values))
            else:
                seen: set[Any] = set()
                for item in getattr(self, rule.items):
                    value = getattr(item, rule.key)
                    if value in seen:
                        raise ValueError(rule.message.format(value=value))
                    seen.add(value)
        return self


_M = TypeVar("_M", bound=BaseModel)


def _empty_default(model: type[_M]) -> Callable[[], _M]:
    """The default factory of a sub-model field: ``model()`` with every field unknown.

    A frozen model's empty instance is built once and shared by every record
    that leaves the field out (it cannot change, so sharing it is safe, and
    validating a record no longer builds and validates one per absent
    sub-model); a mutable model gets a fresh instance each time.
    """
    if not model.model_config.get("frozen"):
        return model
    empty = model()
    return lambda: empty


def _signal(description: str, *indicates: str, en: str, zh: str) -> Any:
    """An optional ordinal behaviour signal pointing at one or more labels."""
    labels = ", ".join(indicates)
    return _opt(f"{description} Indicates {labels}.", unit=_LEVEL, indicates=indicates, en=en, zh=zh)


# --------------------------------------------------------------------------
# Value
# --------------------------------------------------------------------------


class Value(BaseModel):
    """What the customer is worth, how they pay and how risky they are."""

    model_config = _CONFIG

    # Size and profitability
    revenue_12m: float | None = _opt(
        "Revenue from this customer over the last 12 months.", "CNY", ge=0,
        en="revenue (12 months)", zh="近12个月收入"
    )
    profit_12m: float | None = _opt(
        "Profit contribution over the last 12 months; negative when the "
        "customer costs more than they bring.",
        "CNY", en="profit (12 months)", zh="近12个月利润"
    )
    orders_12m: int | None = _opt(
        "Number of orders placed over the last 12 months.", "count", ge=0, le=INT64_MAX,
        en="orders (12 months)", zh="近12个月订单数"
    )
    service_cost_12m: float | None = _opt(
        "Cost of serving the customer over the last 12 months (support, "
        "visits, free services, logistics).",
        "CNY",
        ge=0, en="cost to serve (12 months)", zh="近12个月服务成本"
    )
    lifetime_value: float | None = _opt(
        "Estimated customer lifetime value (expected future profit).", "CNY", ge=0,
        en="lifetime value", zh="客户终身价值"
    )
    # Purchase history (filled by customers_from_transactions from an order log)
    first_purchase_at: date | None = _opt(
        "Date of the customer's first purchase.",
        en="first purchase", zh="首次购买日期",
    )
    last_purchase_at: date | None = _opt(
        "Date of the customer's most recent purchase.",
        en="last purchase", zh="最近购买日期",
    )
    orders_total: int | None = _opt(
        "Number of orders placed since the first purchase.", "count", ge=0, le=INT64_MAX,
        en="orders since the first purchase", zh="累计订单数"
    )
    revenue_total: float | None = _opt(
        "Net revenue from this customer since the first purchase (historic lifetime value).",
        "CNY",
        ge=0, en="revenue since the first purchase", zh="累计收入"
    )
    main_channel_12m: str | None = _opt(
        "The sales channel through which the customer bought the most (by purchase value) over the "
        "last 12 months; ties go to the channel whose name sorts first.",
        en="main channel (12 months)", zh="近12个月主要购买渠道"
    )
    channels_12m: int | None = _opt(
        "Number of distinct sales channels the customer bought through over the last 12 months.",
        "count", ge=0, le=INT64_MAX,
        en="channels used (12 months)", zh="近12个月购买渠道数"
    )
    growth_rate: float | None = _opt(
        "Year-over-year revenue growth as a ratio (0.1 = +10%, -0.2 = -20%).",
        "ratio", en="growth rate", zh="收入增长率"
    )
    share_of_wallet: float | None = _opt(
        "Share of the customer's total spend in our category that goes to us.",
        "share 0-1",
        ge=0,
        le=1, en="share of wallet", zh="采购份额"
    )
    # Payment and credit
    overdue_amount: float | None = _opt(
        "Amount currently past its due date.", "CNY", ge=0, en="overdue amount", zh="逾期金额"
    )
    overdue_days: int | None = _opt(
        "Age of the oldest overdue amount.", "days", ge=0, le=INT64_MAX,
        en="days overdue", zh="逾期天数",
    )
    bad_debt: bool | None = _opt("A debt of this customer has been written off.", en="bad debt", zh="坏账")
    litigation: bool | None = _opt(
        "A lawsuit or arbitration with this customer is pending or happened.", en="litigation", zh="诉讼或仲裁"
    )
    credit_rating: Level | None = _opt(
        "Creditworthiness as judged by finance (3 = excellent).", _LEVEL, en="credit rating", zh="信用等级"
    )
    credit_terms_days: int | None = _opt(
        "Payment terms granted to the customer.", "days", ge=0, le=INT64_MAX, en="credit terms", zh="赊销期"
    )
    receivables: float | None = _opt(
        "Total outstanding receivables (due or not yet due).", "CNY", ge=0, en="receivables", zh="应收账款"
    )
    # Quality of the relationship (customer_quality)
    price_sensitivity: Level | None = _opt(
        "How strongly price drives the customer's buying decisions.", _LEVEL,
        en="price sensitivity", zh="价格敏感度"
    )
    buying_desire: Level | None = _opt(
        "Strength of the customer's desire to buy from us.", _LEVEL, en="buying desire", zh="购买欲望"
    )
    loyalty: Level | None = _opt(
        "Loyalty shown to us (repeat buying, resisting competitors).", _LEVEL, en="loyalty", zh="忠诚度"
    )
    business_risk: Level | None = _opt(
        "Risk in the customer's own business (instability, shrinking market).",
        _LEVEL, en="business risk", zh="经营风险"
    )
    prospects: Level | None = _opt(
        "Development prospects of the customer's business.", _LEVEL, en="prospects", zh="发展前景"
    )
    constructive_requests: bool | None = _opt(
        "The customer brings new, constructive requirements that push us to improve.",
        en="constructive requests", zh="提出建设性要求"
    )
    demands_outside_strengths: bool | None = _opt(
        "The customer asks us to do work we are not good at.",
        en="demands outside our strengths", zh="要求超出我方所长"
    )
    # Big-customer risk inputs
    discount_demands: Level | None = _opt(
        "Pressure for discounts, rebates or free services.", _LEVEL, en="discount demands", zh="索要折扣的力度"
    )
    disrupts_market: bool | None = _opt(
        "The customer disrupts market order or harms smaller customers "
        "(e.g. dumping, cross-region selling).", en="disrupts the market", zh="扰乱市场秩序"
    )
    competitor_courting: Level | None = _opt(
        "How actively competitors are courting this customer.", _LEVEL,
        en="courted by competitors", zh="竞争对手争夺程度"
    )
    switching_cost: Level | None = _opt(
        "The customer's cost of switching to another supplier.", _LEVEL, en="switching cost", zh="转换成本"
    )
    could_integrate: bool | None = _opt(
        "The customer could integrate vertically and make our product themselves.",
        en="could integrate vertically", zh="可能纵向一体化"
    )
    # Retail terminal strength (terminal_priority)
    turnover: float | None = _opt(
        "Terminal turnover (sales of the shop) over the last 12 months.",
        "CNY",
        ge=0, en="turnover", zh="营业额"
    )
    consumer_resources: Level | None = _opt(
        "Consumer resources of the terminal (foot traffic, customer base).",
        _LEVEL, en="consumer resources", zh="消费者资源"
    )
    economic_strength: Level | None = _opt(
        "Economic strength of the customer (capital, ability to stock).", _LEVEL,
        en="economic strength", zh="经济实力"
    )
    operating_level: Level | None = _opt(
        "Quality of the customer's operation (display, management, service).",
        _LEVEL, en="operating level", zh="经营水平"
    )


# --------------------------------------------------------------------------
# Behaviour
# --------------------------------------------------------------------------

_RATIONAL = "nine_types:rational"
_TASK = "nine_types:task"
_GREEDY = "nine_types:greedy"
_OWNER = "nine_types:owner"
_CREDIT = "nine_types:credit_seeking"
_STINGY = "nine_types:stingy"
_TRICKY = "nine_types:tricky"
_REL9 = "nine_types:relationship"
_COMPOSITE = "nine_types:composite"
_ANALYTICAL = "social_style:analytical"
_REL5 = "social_style:relationship"
_DOMINANT = "social_style:dominant"
_AMIABLE = "social_style:amiable"
_CRITICAL = "social_style:critical"


class Behaviour(BaseModel):
    """How the customer (or the contact person) behaves in dealings with us.

    Signals are salesperson observations on the 0-3 ordinal scale; each one
    documents the type (``nine_types``) or style (``social_style``) it points
    to.  ``speech_pace`` and ``sociability`` are the two ``bird_style`` axes.
    """

    model_config = _CONFIG

    # bird_style axes
    speech_pace: SpeechPace | None = _opt(
        "Pace of speech: fast = loud, high-pitched, quick; slow = quiet, low, "
        "unhurried. Axis of bird_style.", en="pace of speech", zh="语速", values=SPEECH_PACE_NAMES
    )
    sociability: Sociability | None = _opt(
        "Sociability: strong = warm and engaging on meeting; weak = reserved, "
        "few words. Axis of bird_style.", en="sociability", zh="社交性", values=SOCIABILITY_NAMES
    )

    # Role facts
    is_owner: bool | None = _opt(
        "The contact owns the business or is a shareholder. True supports "
        "nine_types:owner; False supports nine_types:task.",
        indicates=(_OWNER, _TASK), en="owner or shareholder", zh="老板或股东"
    )
    seniority: Level | None = _opt(
        "Rank of the contact in their organisation (3 = top management). Low "
        "rank with a rising career supports nine_types:credit_seeking.",
        _LEVEL,
        indicates=(_CREDIT,), en="seniority", zh="职位层级"
    )

    # nine_types: rational
    compares_on_merit: Level | None = _signal(
        "Weighs suppliers against each other on capability and product "
        "merits before choosing.",
        _RATIONAL, en="compares suppliers on merit", zh="按实力比较供应商"
    )
    principled: Level | None = _signal(
        "Works by rules and procedure; careful and responsible in their work.",
        _RATIONAL, en="works by the rules", zh="按规章办事"
    )
    unswayed_by_favours: Level | None = _signal(
        "Choice is not moved by relationships, gifts or flattery.",
        _RATIONAL, en="unswayed by favours", zh="不为人情所动"
    )
    # nine_types: task
    delegated_task: Level | None = _signal(
        "Handles a purchase assigned by superiors rather than their own initiative.",
        _TASK, en="handles a delegated task", zh="办理上级交办的任务"
    )
    outside_own_duties: Level | None = _signal(
        "The assignment lies outside the contact's normal responsibilities.",
        _TASK, en="outside their own duties", zh="超出本职工作"
    )
    good_enough_goal: Level | None = _signal(
        "Aims for an acceptable result rather than the best one; few demands.",
        _TASK, en="aims for good enough", zh="只求过得去"
    )
    # nine_types: greedy
    asks_personal_benefit: Level | None = _signal(
        "Hints at or asks for personal benefits (a compliance risk: never offered).",
        _GREEDY, en="asks for personal benefit", zh="索要个人好处"
    )
    complex_position: Level | None = _signal(
        "Sits in a complicated web of internal relations at their company.",
        _GREEDY, en="complex position", zh="内部关系复杂"
    )
    presses_price_hard: Level | None = _signal(
        "Pushes hard on price while also demanding high quality and service.",
        _GREEDY, en="presses hard on price", zh="极力压价"
    )
    # nine_types: owner
    price_first: Level | None = _signal(
        "Price is the first and foremost concern.",
        _OWNER, en="price first", zh="价格优先"
    )
    seeks_best_combination: Level | None = _signal(
        "Looks for the best overall combination of price, quality and service.",
        _OWNER, en="seeks the best combination", zh="追求最佳组合"
    )
    owner_mindset: Level | None = _signal(
        "Spends as if it were their own money (owner or very upright employee).",
        _OWNER, en="owner mindset", zh="当家作主的心态"
    )
    # nine_types: credit_seeking
    rising_career: Level | None = _signal(
        "Junior with limited authority but clearly on the way up.",
        _CREDIT, en="rising career", zh="职位上升中"
    )
    quality_first: Level | None = _signal(
        "Cares mainly about quality; price only needs to be reasonable.",
        _CREDIT, en="quality first", zh="质量优先"
    )
    pays_out_of_pocket: Level | None = _signal(
        "Sometimes pays personally or absorbs losses to get things done for "
        "the company and to be noticed.",
        _CREDIT, en="pays out of pocket", zh="自掏腰包办事"
    )
    # nine_types: stingy
    squeezes_margin: Level | None = _signal(
        "Compares prices until no margin is left, then demands quality too.",
        _STINGY, en="squeezes the margin", zh="压尽利润空间"
    )
    hides_facts: Level | None = _signal(
        "Conceals facts or exaggerates their own position in negotiations.",
        _STINGY, en="hides facts", zh="隐瞒事实"
    )
    sham_tenders: Level | None = _signal(
        "Stages tenders or side-by-side comparisons that are not needed, only "
        "to drive the price down.",
        _STINGY, en="sham tenders", zh="虚假招标比价"
    )
    # nine_types: tricky
    generous_opening: Level | None = _signal(
        "Appears ideal at first contact, may even offer more than our price, "
        "and does not haggle.",
        _TRICKY, en="generous opening", zh="初次接触出手大方"
    )
    leaves_paperwork_to_us: Level | None = _signal(
        "Never prepares documents or specifications; expects us to do it all.",
        _TRICKY, en="leaves the paperwork to us", zh="文件全推给我方"
    )
    false_urgency: Level | None = _signal(
        "Claims an urgent deadline that turns out not to matter once the work is done.",
        _TRICKY, en="false urgency", zh="谎称紧急"
    )
    # nine_types: relationship
    prior_friendship: Level | None = _signal(
        "A personal friendship existed before the business relationship.",
        _REL9, en="prior friendship", zh="原有私交"
    )
    expects_favours: Level | None = _signal(
        "Expects work for free or at a discount because of the friendship.",
        _REL9, en="expects favours", zh="指望照顾"
    )
    # nine_types: composite (mostly derived)
    shifts_with_situation: Level | None = _signal(
        "Shows no fixed pattern: behaves like a different type depending on "
        "the situation (seasoned, complex network). Composite is mainly "
        "derived from several strong types or a changed type_history.",
        _COMPOSITE, en="shifts with the situation", zh="随情境变化"
    )
    type_history: tuple[str, ...] = record_field(
        default=(),
        description=(
            "nine_types label ids recorded at earlier observations, oldest "
            "first. A change between observations points to "
            "nine_types:composite."
        ),
        indicates=(_COMPOSITE,), en="recorded types", zh="历次记录的类型"
    )
    observed_at: date | None = _opt(
        "Date of the most recent behaviour observation.",
        en="observed on", zh="观察日期",
    )

    # social_style: analytical
    wants_data: Level | None = _signal(
        "Decides cautiously and needs facts, figures and evidence.",
        _ANALYTICAL, en="wants data", zh="需要数据"
    )
    digs_into_details: Level | None = _signal(
        "Probes specifications, technical parameters and contract terms.",
        _ANALYTICAL, en="digs into details", zh="深究细节"
    )
    challenging_questions: Level | None = _signal(
        "Asks many probing questions to verify claims; unmoved by enthusiasm.",
        _ANALYTICAL, en="challenging questions", zh="追问质疑"
    )
    # social_style: relationship
    values_personal_trust: Level | None = _signal(
        "Puts trust and personal connection before other factors.",
        _REL5, en="values personal trust", zh="重视个人信任"
    )
    wants_attention: Level | None = _signal(
        "Wants to be noticed, respected and treated personally.",
        _REL5, en="wants attention", zh="希望受到重视"
    )
    refers_others: Level | None = _signal(
        "Recommends us to others; spreads word of mouth once satisfied.",
        _REL5, en="refers others", zh="推荐他人"
    )
    # social_style: dominant
    decides_fast: Level | None = _signal(
        "Knows what they want and decides quickly.",
        _DOMINANT, en="decides fast", zh="决策迅速"
    )
    dislikes_small_talk: Level | None = _signal(
        "Impatient with small talk and long procedures; wants to get to the point.",
        _DOMINANT, en="dislikes small talk", zh="不喜寒暄"
    )
    wants_control: Level | None = _signal(
        "Wants to control pace, terms and details; judges by results.",
        _DOMINANT, en="wants control", zh="希望掌控"
    )
    # social_style: amiable
    avoids_conflict: Level | None = _signal(
        "Friendly and polite; avoids disagreement and confrontation.",
        _AMIABLE, en="avoids conflict", zh="回避冲突"
    )
    passive: Level | None = _signal(
        "Rarely takes the lead; needs to be guided to state real needs.",
        _AMIABLE, en="passive", zh="被动"
    )
    hides_complaints: Level | None = _signal(
        "Keeps dissatisfaction to themselves rather than voicing it.",
        _AMIABLE, en="keeps complaints to themselves", zh="不满藏在心里"
    )
    # social_style: critical
    high_standards: Level | None = _signal(
        "Holds very high, sometimes exacting standards and expectations.",
        _CRITICAL, en="high standards", zh="标准很高"
    )
    spots_flaws: Level | None = _signal(
        "Quickly finds defects and shortcomings.",
        _CRITICAL, en="spots flaws", zh="善于挑毛病"
    )
    criticises_bluntly: Level | None = _signal(
        "States criticism directly, sometimes sharply.",
        _CRITICAL, en="criticises bluntly", zh="批评直接"
    )


# --------------------------------------------------------------------------
# Deal
# --------------------------------------------------------------------------


class Deal(_Rules):
    """Milestones of the sales process (deal_stage)."""

    model_config = _CONFIG

    first_contact_at: date | None = _opt(
        "Date of the first contact with us.",
        en="first contact", zh="首次接触日期",
    )
    last_contact_at: date | None = _opt("Date of the most recent contact.", en="last contact", zh="最近接触日期")
    trial_started_at: date | None = _opt(
        "Date the customer started a trial of our product or service.", en="trial started", zh="试用开始日期"
    )
    trial_ended_at: date | None = _opt("Date the trial ended.", en="trial ended", zh="试用结束日期")
    needs_confirmed: bool | None = _opt(
        "The customer clearly confirmed their needs (product, scope).", en="needs confirmed", zh="需求已确认"
    )
    price_confirmed: bool | None = _opt(
        "The customer clearly confirmed the price.",
        en="price confirmed", zh="价格已确认",
    )
    terms_agreed: bool | None = _opt(
        "Price and service content are agreed by both sides.", en="terms agreed", zh="价格与服务内容已谈妥"
    )
    contract_sent_at: date | None = _opt(
        "Date the contract was sent to the customer.",
        en="contract sent", zh="合同寄出日期",
    )
    contract_returned_at: date | None = _opt(
        "Date the signed contract came back from the customer.", en="contract returned", zh="合同回签日期"
    )
    first_payment_at: date | None = _opt(
        "Date of the customer's first payment.",
        en="first payment", zh="首次付款日期",
    )
    accepted_at: date | None = _opt(
        "Date the customer accepted our delivered service (cooperation succeeded).",
        en="service accepted", zh="服务验收日期"
    )
    lost_at: date | None = _opt("Date the deal was lost or abandoned.", en="deal lost", zh="丢单日期")

    rules: ClassVar[tuple[NotBefore | UniqueItems, ...]] = tuple(
        NotBefore(earlier, later, f"deal.{later} ({{later}}) is before deal.{earlier} ({{earlier}})")
        for earlier, later in (
            ("first_contact_at", "last_contact_at"),
            ("trial_started_at", "trial_ended_at"),
            ("contract_sent_at", "contract_returned_at"),
        )
    )


# --------------------------------------------------------------------------
# Lead
# --------------------------------------------------------------------------


class Lead(BaseModel):
    """Sales-lead signals (lead_grade A / B1 / B2 / B3 / C / D)."""

    model_config = _CONFIG

    has_need: bool | None = _opt(
        "The prospect has a real need for our product. False points to D.", en="has a real need", zh="有真实需求"
    )
    asks_details: Level | None = _opt(
        "How actively the prospect asks about functions, after-sales and "
        "implementation. Points to A together with known needs and contacts.",
        _LEVEL, en="asks about details", zh="询问细节的积极程度"
    )
    urgency: Level | None = _opt(
        "Urgency the prospect shows (alone it does not make an A lead).", _LEVEL, en="urgency", zh="急切程度"
    )
    needs_known: bool | None = _opt("We know the prospect's business needs.", en="needs known", zh="已掌握需求")
    contacts_known: bool | None = _opt(
        "We know the prospect's business and technical contact persons.", en="contacts known", zh="已掌握联系人"
    )
    concerns_known: bool | None = _opt(
        "We know the prospect's main concerns.",
        en="concerns known", zh="已掌握关注点",
    )
    budget_status: BudgetStatus | None = _opt(
        "Budget state: approved, pending (not decided yet) or none. Pending or "
        "none with a clear need points to B1.", en="budget", zh="预算状态", values=BUDGET_STATUS_NAMES
    )
    comparing_vendors: bool | None = _opt(
        "The prospect is comparing several vendors. Points to B1.", en="comparing vendors", zh="正在比较多家供应商"
    )
    meticulous: Level | None = _opt(
        "How meticulous and calculating the prospect is. Points to B2.", _LEVEL, en="meticulous", zh="精打细算程度"
    )
    decision_factors: Level | None = _opt(
        "Number and weight of factors influencing the purchase. Points to B2.",
        _LEVEL, en="decision factors", zh="影响决策的因素"
    )
    raises_substitutes: bool | None = _opt(
        "Raises substitute products late in the process. Points to B2.", en="raises substitutes", zh="后期提出替代品"
    )
    haggling: Level | None = _opt(
        "How hard the prospect haggles and nitpicks. Points to B3.", _LEVEL, en="haggling", zh="讨价还价程度"
    )
    knows_margins: bool | None = _opt(
        "Knows the trade's inside margins and cost base. Points to B3.",
        en="knows the trade margins", zh="了解行业利润"
    )
    throwaway_contact: bool | None = _opt(
        "Asks through a throwaway or anonymous account. Points to C.", en="throwaway contact", zh="使用临时或匿名账号"
    )
    fishing_for_quote: bool | None = _opt(
        "Only fishing for prices or market information. Points to C.",
        en="only fishing for a quote", zh="只为打听价格"
    )


# --------------------------------------------------------------------------
# Compliance
# --------------------------------------------------------------------------


class Deduction(_Rules):
    """One recorded compliance deduction with its reason."""

    model_config = _CONFIG

    at: date = record_field(
        description="Date the violation was recorded.",
        en="recorded on", zh="记录日期", default=...,
    )
    points: float = record_field(
        ge=0,
        description="Points deducted from the compliance score.",
        unit="points", en="points deducted", zh="扣分", default=...
    )
    reason: str = record_field(
        description="Why the points were deducted.",
        en="reason", zh="扣分原因", default=...,
    )
    serious: bool = record_field(
        default=False,
        description=(
            "A serious violation: supply is suspended until enforcement concludes."
        ), en="serious violation", zh="严重违规"
    )
    resolved_at: date | None = _opt(
        "Date enforcement on this violation concluded; None = still open or "
        "not recorded.", en="enforcement concluded", zh="处理完结日期"
    )

    rules: ClassVar[tuple[NotBefore | UniqueItems, ...]] = (
        NotBefore("at", "resolved_at", "resolved_at ({later}) is before at ({earlier})"),
    )


class Compliance(BaseModel):
    """Periodic compliance and business assessment (retail_license_grade)."""

    model_config = _CONFIG

    score: float | None = _opt(
        "Compliance score from market inspectors, 100 minus deductions in the period.",
        "points 0-100",
        ge=0,
        le=100, en="compliance score", zh="合规得分"
    )
    business_score: float | None = _opt(
        "Business assessment score (operating + cooperation) from account "
        "managers; used to rank compliance-A retailers for stars.",
        "points",
        ge=0, en="business score", zh="经营考核得分"
    )
    operating_score: float | None = _opt(
        "Operating-level part of the business score.", "points", ge=0, en="operating score", zh="经营水平得分"
    )
    cooperation_score: float | None = _opt(
        "Cooperation-level part of the business score.", "points", ge=0, en="cooperation score", zh="合作程度得分"
    )
    assessed_at: date | None = _opt("Date of the latest assessment.", en="assessed on", zh="考核日期")
    deductions: tuple[Deduction, ...] = record_field(
        default=(),
        description="Recorded deductions, each with date, points and reason.", en="deductions", zh="扣分记录"
    )


# --------------------------------------------------------------------------
# Cases (complaints)
# --------------------------------------------------------------------------


class Case(_Rules):
    """One complaint or service case (satisfaction, crisis)."""

    model_config = _CONFIG

    id: str = record_field(
        min_length=1, description="Case identifier, unique per customer.",
        en="case id", zh="案件编号", default=...,
    )
    opened_at: date = record_field(
        description="Date the case was opened.",
        en="opened on", zh="立案日期", default=...,
    )
    closed_at: date | None = _opt("Date the case was closed; None while open.", en="closed on", zh="结案日期")
    summary: str | None = _opt("Short free-text summary of the complaint.", en="summary", zh="投诉摘要")
    severity: Severity | None = _opt(
        "Severity of the underlying quality problem: minor, major, or a "
        "key-part failure.", en="severity", zh="问题严重程度", values=SEVERITY_NAMES
    )
    quality_issue: bool | None = _opt(
        "The complaint is about product quality.",
        en="quality issue", zh="质量问题",
    )
    repeat_complaint: bool | None = _opt(
        "The same problem was complained about before within a month.", en="repeat complaint", zh="重复投诉"
    )
    safety_related: bool | None = _opt("The problem affects safety.", en="safety related", zh="涉及安全")
    injury: bool | None = _opt("Someone was injured.", en="injury", zh="人身伤害")
    property_loss: bool | None = _opt("Major property loss occurred.", en="property loss", zh="重大财产损失")
    batch_issue: bool | None = _opt(
        "A batch problem affecting many units (typically raised by a group or "
        "fleet customer).", en="batch issue", zh="批量问题"
    )
    damage_amount: float | None = _opt(
        "Monetary damage claimed or assessed.", "CNY", ge=0, en="damage", zh="损失金额"
    )
    price_opaque: bool | None = _opt(
        "Labour, parts or repair prices were not shown transparently.", en="prices not shown", zh="价格不透明"
    )
    parts_wait_days: int | None = _opt(
        "Days the customer waited for spare parts.", "days", ge=0, le=INT64_MAX, en="parts wait", zh="等待配件天数"
    )
    repair_days: int | None = _opt(
        "Days the repair took in total.", "days", ge=0, le=INT64_MAX,
        en="repair time", zh="维修天数",
    )
    technician_skill_issue: bool | None = _opt(
        "Delays or failures were caused by technician skill.", en="technician skill issue", zh="技师技能问题"
    )
    repair_visits: tuple[date, ...] = record_field(
        default=(),
        description="Dates the customer came in for a repair of this problem.",
        en="repair visits", zh="维修进站日期"
    )
    customer_accepts_repairs: bool | None = _opt(
        "The customer accepts further repairs (False = refuses more repairs).",
        en="accepts further repairs", zh="接受继续维修"
    )
    solution_offered: bool | None = _opt(
        "A satisfactory solution has been proposed to the customer.", en="solution offered", zh="已提出解决方案"
    )
    hostile_tone: bool | None = _opt("The customer's tone is hostile.", en="hostile tone", zh="态度敌对")
    calmed: bool | None = _opt("The customer was calmed down by our staff.", en="calmed down", zh="情绪已安抚")
    media_threat: bool | None = _opt(
        "The customer threatens media or online exposure.",
        en="threatens exposure", zh="扬言曝光",
    )
    legal_threat: bool | None = _opt(
        "The customer threatens legal action.",
        en="threatens legal action", zh="扬言起诉",
    )
    extreme_behaviour_risk: bool | None = _opt(
        "The customer may resort to extreme behaviour.", en="risk of extreme behaviour", zh="可能采取过激行为"
    )
    exposed: bool | None = _opt(
        "The case has already been made public (media or online).", en="already exposed", zh="已被曝光"
    )
    media_involved: bool | None = _opt("Media or journalists are involved.", en="media involved", zh="媒体介入")
    lawyer_involved: bool | None = _opt("A lawyer is involved.", en="lawyer involved", zh="律师介入")
    police_involved: bool | None = _opt("The police are involved.", en="police involved", zh="警方介入")
    regulator_involved: bool | None = _opt(
        "A regulator (market regulation, quality supervision) is involved.",
        en="regulator involved", zh="监管部门介入"
    )
    consumer_association_involved: bool | None = _opt(
        "A consumer association is involved.", en="consumer association involved", zh="消协介入"
    )
    government_involved: bool | None = _opt(
        "A government office is involved.",
        en="government involved", zh="政府机关介入",
    )

    rules: ClassVar[tuple[NotBefore | UniqueItems, ...]] = (
        NotBefore("opened_at", "closed_at", "case {id!r}: closed_at ({later}) is before opened_at ({earlier})"),
    )


# --------------------------------------------------------------------------
# Interactions and satisfaction
# --------------------------------------------------------------------------


class Interaction(BaseModel):
    """One contact with the customer (agenda, upkeep)."""

    model_config = _CONFIG

    at: date = record_field(description="Date of the contact.", en="contacted on", zh="联系日期", default=...)
    kind: InteractionKind | None = _opt(
        "Kind of contact: visit, call, message or greeting.", en="kind of contact", zh="联系方式",
        values=INTERACTION_KIND_NAMES,
    )
    note: str | None = _opt("Free-text note about the contact.", en="note", zh="备注")


class Grade(BaseModel):
    """A label a customer held under one scheme, from a date on (grade history).

    The engine reads the latest grade of a scheme dated on or before
    ``as_of`` as the customer's previous label, for schemes with stability
    rules (hysteresis).
    """

    model_config = _CONFIG

    scheme: str = record_field(
        min_length=1, description="Scheme id, e.g. 'value_pyramid'.",
        en="scheme", zh="分类方案", default=...,
    )
    label: str = record_field(
        min_length=1, description="Label id held under that scheme.",
        en="grade", zh="等级", default=...,
    )
    since: date = record_field(
        description="Date the customer was given this label.",
        en="since", zh="起始日期", default=...,
    )


class Satisfaction(BaseModel):
    """Satisfaction evidence from calls and surveys (grades A-E)."""

    model_config = _CONFIG

    survey_score: int | None = _opt(
        "Latest survey score (5 = very satisfied).", "points 1-5", ge=1, le=5, en="survey score", zh="调查评分"
    )
    surveyed_at: date | None = _opt("Date of the latest survey.", en="surveyed on", zh="调查日期")
    loyal_evidence: bool | None = _opt(
        "The customer shows clear attachment to the brand.", en="shows loyalty", zh="表现出对品牌的忠诚"
    )
    exceeded_expectations: bool | None = _opt(
        "Service exceeded expectations, with a concrete example given.",
        en="exceeded expectations", zh="服务超出预期"
    )
    expectations_met: bool | None = _opt(
        "Service met the customer's expectations.",
        en="expectations met", zh="服务符合预期",
    )
    details_neglected: bool | None = _opt(
        "The customer reports neglected details or flat, perfunctory service.",
        en="details neglected", zh="细节被忽视"
    )
    states_displeasure: bool | None = _opt(
        "The customer states a concrete reason for displeasure.", en="states displeasure", zh="明确表示不满"
    )


# --------------------------------------------------------------------------
# Customer
# --------------------------------------------------------------------------


class Customer(_Rules):
    """One customer record: identity plus everything observed about them."""

    model_config = _CONFIG

    id: str = record_field(
        min_length=1, description="Stable customer identifier.",
        en="customer id", zh="客户编号", default=...,
    )
    name: str | None = _opt("Display name of the customer.", en="name", zh="客户名称")
    kind: CustomerKind | None = _opt(
        "Kind of customer: person, company, retailer (licensed shop) or "
        "terminal (retail outlet).", en="kind of customer", zh="客户类别", values=KIND_NAMES
    )
    segment: str | None = _opt("Market segment or industry.", en="segment", zh="细分市场")
    region: str | None = _opt("Sales region.", en="region", zh="销售区域")
    owner: str | None = _opt("Responsible account manager.", en="account manager", zh="客户经理")
    birthday: date | None = _opt(
        "Birthday of the customer or main contact (for greetings).", en="birthday", zh="生日"
    )
    identity: tuple[Identity, ...] = record_field(
        default=(),
        description=(
            "Sensitive identities of the customer (media, lawyer, police, "
            "fleet...), which escalate complaints."
        ), en="sensitive identities", zh="敏感身份", values=IDENTITY_NAMES
    )
    is_large_account: bool | None = _opt(
        "Managed as a large (key) account; big-customer risk flags apply.", en="large account", zh="大客户"
    )
    value: Value = record_field(
        default_factory=_empty_default(Value), description="Value, payment and risk figures.",
        en="value and payment", zh="价值与付款"
    )
    behaviour: Behaviour = record_field(
        default_factory=_empty_default(Behaviour), description="Observed behaviour signals.", en="behaviour", zh="行为表现"
    )
    deal: Deal = record_field(
        default_factory=_empty_default(Deal), description="Sales milestones.",
        en="sales milestones", zh="销售进展",
    )
    lead: Lead = record_field(
        default_factory=_empty_default(Lead), description="Sales-lead signals.",
        en="lead signals", zh="线索信号",
    )
    compliance: Compliance = record_field(
        default_factory=_empty_default(Compliance), description="Compliance and business assessment.",
        en="compliance assessment", zh="合规考核"
    )
    cases: tuple[Case, ...] = record_field(
        default=(), description="Complaint and service cases.", en="complaint cases", zh="投诉案件"
    )
    interactions: tuple[Interaction, ...] = record_field(
        default=(), description="Contact log.", en="contact log", zh="联系记录"
    )
    satisfaction: Satisfaction = record_field(
        default_factory=_empty_default(Satisfaction), description="Satisfaction evidence.",
        en="satisfaction evidence", zh="满意度情况"
    )
    grades: tuple[Grade, ...] = record_field(
        default=(),
        description="Grade history: labels held under each scheme and since when (for hysteresis).",
        en="grade history", zh="等级记录"
    )

    def previous_grade(self, scheme: str, as_of: date) -> Grade | None:
        """The latest grade of ``scheme`` dated on or before ``as_of``, if any."""
        held = [g for g in self.grades if g.scheme == scheme and g.since <= as_of]
        return max(held, key=lambda g: g.since) if held else None

    rules: ClassVar[tuple[NotBefore | UniqueItems, ...]] = (
        UniqueItems("cases", "id", "duplicate case id {value!r}"),
    )


# --------------------------------------------------------------------------
# The open record: namespaces registered by plugins
# --------------------------------------------------------------------------

_RESERVED = frozenset({"params"})  # names the expression language gives another meaning
_EXTENDED: dict[tuple[tuple[str, type[BaseModel], str], ...], type[Customer]] = {}


def unbounded_whole_numbers(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Paths of ``int`` fields (or items) not bounded within 64 bits, read exactly
    from the field constraints (``ge``/``gt``/``le``/``lt``)."""
    import annotated_types as at

    from customer_rules.lang.types import _unwrap

    out: list[str] = []
    for name, finfo in model.model_fields.items():
        path = f"{prefix}{name}"
        bare, meta = _unwrap(finfo.annotation)
        meta = [*finfo.metadata, *meta]
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            out += unbounded_whole_numbers(bare, path + ".")
            continue
        if get_origin(bare) in (tuple, list):
            args = [a for a in get_args(bare) if a is not Ellipsis]
            item, item_meta = _unwrap(args[0]) if args else (Any, [])
            if isinstance(item, type) and issubclass(item, BaseModel):
                out += unbounded_whole_numbers(item, path + ".")
                continue
            bare, meta = item, item_meta
        if bare is not int:
            continue
        low: Any = None
        high: Any = None
        for m in meta:
            for c in getattr(m, "metadata", [m]):
                if isinstance(c, at.Ge):
                    low = c.ge
                elif isinstance(c, at.Gt):
                    low = c.gt
                elif isinstance(c, at.Le):
                    high = c.le
                elif isinstance(c, at.Lt):
                    high = c.lt
        if low is None or high is None or low < INT64_MIN or high > INT64_MAX:
            out.append(path)
    return out


def _check_namespace_model(owner: str, namespace: str, model: Any) -> None:
    """A plugin's namespace model must be a record model the language can read."""
    from customer_rules.lang.types import record_fields, unsupported_fields

    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PluginError(
            owner, f"record namespace {namespace!r}: {model!r} is not a pydantic model class"
        )
    problems = [f"{namespace}.{path}: {why}" for path, why in unsupported_fields(model)]
    for path, info in record_fields(model).items():
        if set(info.names) != {"en", "zh"}:
            problems.append(
                f"{namespace}.{path}: declare its display names, record_field(..., en=..., zh=...)"
            )
    problems += [
        f"{namespace}.{path}: bound whole numbers within 64 bits (ge=..., le=... up to INT64_MAX)"
        for path in unbounded_whole_numbers(model)
    ]
    try:
        model()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        problems.append(
            f"every field needs a default (None = not observed): {exc.__class__.__name__}"
            f" {str(exc).splitlines()[1] if len(str(exc).splitlines()) > 1 else exc}"
        )
    if problems:
        raise PluginError(owner, f"record namespace {namespace!r}: " + "; ".join(problems))


def extend_record(
    registrations: Iterable[tuple[str, Any]], base: type[Customer] | None = None
) -> type[Customer]:
    """The record model of an engine: :class:`Customer` plus plugin namespaces.

    ``registrations`` are ``(plugin name, result of register_record_fields)``
    pairs; each result maps a namespace to a pydantic model class (or is
    ``None``). The record then accepts ``{"<namespace>": {...}}`` (an absent
    namespace is the model with every field unknown). A namespace that is a
    core field, is registered twice, is not an identifier, or whose model the
    language cannot read (unsupported leaf types, a required field, a whole
    number not bounded within 64 bits, a field without en and zh display
    names) is a :class:`PluginError` naming the plugin(s). Without
    namespaces the result is ``base`` itself; the same namespaces give the
    same class.
    """
    core = base or Customer
    owners: dict[str, str] = {}
    chosen: list[tuple[str, type[BaseModel], str]] = []
    for owner, result in registrations:
        if result is None:
            continue
        if not isinstance(result, Mapping):
            raise PluginError(
                owner,
                f"register_record_fields returned {type(result).__name__}, not a mapping of"
                " namespace to pydantic model",
            )
        for namespace, model in result.items():
            if (
                not isinstance(namespace, str)
                or not namespace.isidentifier()
                or not namespace.isascii()
                or keyword.iskeyword(namespace)
                or namespace.startswith("_")
                or namespace in _RESERVED
            ):
                raise PluginError(
                    owner, f"record namespace {namespace!r} is not a plain lower-case identifier"
                )
            if namespace in core.model_fields:
                raise PluginError(
                    owner,
                    f"record namespace {namespace!r} clashes with the core record field"
                    f" {namespace!r} (Customer.{namespace})",
                )
            if namespace in owners:
                raise PluginError(
                    owner,
                    f"record namespace {namespace!r} clashes with the one plugin"
                    f" {owners[namespace]!r} registered",
                )
            _check_namespace_model(owner, namespace, model)
            owners[namespace] = owner
            chosen.append((namespace, model, owner))
    if not chosen:
        return core
    key = tuple(chosen)
    found = _EXTENDED.get(key)
    if found is not None and found.__base__ is core:
        return found
    fields: dict[str, Any] = {
        namespace: (
            model,
            Field(
                default_factory=_empty_default(model),
                description=(model.__doc__ or f"Fields of the {owner} plugin.").strip().splitlines()[0],
                json_schema_extra={"plugin": owner},
            ),
        )
        for namespace, model, owner in chosen
    }
    extended = cast("type[Customer]", create_model("Customer", __base__=core, __module__=__name__, **fields))
    extended.__doc__ = core.__doc__
    _EXTENDED[key] = extended
    return extended
