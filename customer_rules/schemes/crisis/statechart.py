"""Built-in plugin: the ``crisis`` overlay and crisis phases of event streams.

The stream re-decides the ``crisis`` scheme on case events, and each case
has a phase chart (SCHEMES.md §9)::

    latent ──(the case is a crisis, G)──> outbreak ──(closed)──> aftermath ──(no longer G)──> recovery
    latent ──(closed without a crisis)──> ended

Entering outbreak, aftermath and recovery runs that phase's procedure
through the ``escalate`` hook, in English and Chinese; the outbreak plan
is the G strategy's actions when it has any. A plugin of its own, not
part of the scheme's plugin, so that a firm replacing the ``crisis``
policy keeps the phases.
"""

from __future__ import annotations

from customer_rules.plugin import CaseChart, PhaseChart, PhaseTransition, Text, hookimpl

SCHEME = "crisis"
CRISIS = "G"

#: Steps per phase (SCHEMES.md §9, seed 004), each in English and Chinese.
#: ``latent`` holds the preventive measures: a case starts there, so no
#: escalation runs them — they are the guidance while warning signs can
#: still be headed off.
#: Entering outbreak runs the G strategy's actions when the crisis scheme
#: has them, else these. For a safety-related case the duties to the
#: regulator and a recall come before the aim of avoiding exposure.
PHASE_STEPS: dict[str, tuple[Text, ...]] = {
    "latent": (
        Text(
            en="Watch for warning signs: anger that is not calmed, threats, outside parties, repeated repairs",
            zh="留意危机征兆：安抚无效的不满、威胁、外部介入、反复维修",
        ),
        Text(
            en="Solve the customer's problem quickly and calm them in good faith",
            zh="尽快解决客户的问题，善意安抚",
        ),
        Text(
            en="Report every warning sign to the responsible function and prepare a response in advance",
            zh="发现征兆及时上报责任部门，提前准备应对措施",
        ),
    ),
    "outbreak": (
        Text(
            en="Early warning: report the case at once to the responsible function and management",
            zh="预警上报：立即把案件上报责任部门和管理层",
        ),
        Text(
            en="Safety-related: report to the market regulator as the law requires and recall the product if it may be unsafe — before anything else",
            zh="涉及安全时：依法向市场监管部门报告，产品可能存在安全隐患时实施召回——这些优先于其他一切",
        ),
        Text(en="Set up a dedicated task team to assess the case", zh="成立专案处理小组，对事件进行分析和评估"),
        Text(en="Draw up a handling plan", zh="拟定处理方案"),
        Text(en="Negotiate with the customer in good faith", zh="与客户真诚协商"),
        Text(
            en="Seek an authoritative, credible third party to establish the facts",
            zh="寻求具有权威性和公信力的第三方查明事实",
        ),
        Text(
            en="Coordinate with public relations to prevent or contain exposure, minding the public interest",
            zh="与公关部门协调，防止曝光或控制影响扩大，并注重公众利益",
        ),
    ),
    "aftermath": (
        Text(
            en="Carry out what was agreed with the customer and keep them informed",
            zh="落实与客户商定的事项，并及时告知客户进展",
        ),
        Text(
            en="Watch media and online channels for follow-up exposure and keep good media relations",
            zh="关注媒体和网络上的后续报道，保持良好的媒体关系",
        ),
        Text(en="Keep a full record of what was agreed and done", zh="完整记录商定和执行的事项"),
    ),
    "recovery": (
        Text(en="Review the case with the task team and remove the root cause", zh="与专案小组复盘，消除根本原因"),
        Text(en="Restore the relationship with a follow-up visit or call", zh="通过回访或电话修复客户关系"),
        Text(en="Close the crisis file", zh="结案归档"),
    ),
}


def phase_plan(phase: str, lang: str = "en") -> tuple[str, ...]:
    """The steps of ``phase`` in ``lang`` (``en`` or ``zh``)."""
    return tuple(step.get(lang) for step in PHASE_STEPS.get(phase, ()))


#: The English steps of each phase (the stream hands the hook both
#: languages: ``plan`` in English, ``steps`` as the bilingual texts).
PHASE_PLANS: dict[str, tuple[str, ...]] = {phase: phase_plan(phase) for phase in PHASE_STEPS}

PHASES = PhaseChart(
    scheme=SCHEME,
    label=CRISIS,
    start="latent",
    states={
        "latent": (
            PhaseTransition("outbreak", label=True),
            PhaseTransition("ended", closed=True, label=False),
        ),
        "outbreak": (PhaseTransition("aftermath", closed=True),),
        "aftermath": (PhaseTransition("recovery", label=False),),
        "recovery": (),
        "ended": (),
    },
    plans=PHASE_STEPS,
    strategy_states=("outbreak",),
)


@hookimpl
def register_statecharts() -> list[CaseChart | PhaseChart]:
    return [CaseChart(scheme=SCHEME, kind="crisis"), PHASES]
