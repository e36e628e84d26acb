"""Stance cues: which way a Chinese sentence leans about a group, beyond its words.

A bag of n-grams sees the same slur in "别再叫人‘X’了" and in an insult. These cues
name the framing around it: a negated or refused verb of speech (不要/别再/拒绝 + 说/叫/
骂), a reported voice (有人说, 网上说), a saying held up and judged (这种说法, 是歧视,
站不住脚), a denied generalisation (不是所有, 以偏概全), a generalisation over a group
(X人都, X人就是, 天生), a disclaimer before a "but" (不是歧视，但), an approving frame
around a saying (老话说得好, 果然), sarcasm markers (不愧是, 呵呵) and the speaker's own
group (我们X人). A few pairs count as well (a quotation with a rejecting frame, a
generalisation under a denial), since a linear model cannot combine two cues itself.

Each cue is a name; the feature code hashes the names of the cues that fire in a
segment into their own buckets, at inference as in training. The patterns run on
folded text (NFKC, casefolded), where full-width ，！？ have become ,!?.
"""

from __future__ import annotations

import re

_STOP = r"[^,.;:!?。；：\n]"  # within one clause

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        (
            "refuse_speech",
            r"(?:不要|不要再|别|别再|拒绝|反对|不该|不应该|不应|停止|抵制|不许|不准|请勿|"
            r"少|不能|不可以|何必|没必要|不想再?|受够了)"
            + _STOP
            + r"{0,6}?(?:说|叫|骂|喊|称呼|称|讲|贴|传|转发|拿|开.{0,2}玩笑|扣帽子)",
        ),
        (
            "reported_voice",
            r"(?:有人|有些人|总有人|老有人|常有人|听人|有网友|网友|网上|评论区|群里|"
            r"某些人|一些人|有的人|别人|外人|对方|同事|亲戚|长辈|领导|老板|房东|HR|hr)"
            + _STOP
            + r"{0,4}?(?:说|讲|骂|叫|称|留言|评论|发帖|觉得|认为|嘲笑|调侃|吐槽|问我|跟我说)",
        ),
        (
            "judged_saying",
            r"(?:这种|这类|这样的|那种|此类|这些|那些|类似的?|这个|那个|这句)"
            + _STOP
            + r"{0,4}?(?:说法|言论|话|论调|标签|偏见|段子|梗|玩笑|观点|想法|成见|印象|"
            r"评论|帖子|言辞|称呼|词|逻辑|思维|看法|结论)",
        ),
        (
            "verdict",
            r"(?:是|就是|属于|纯属|叫做|才是|本身就是|明显是|明明就是|无非是|都是)"
            r"(?:一种)?(?:歧视|偏见|刻板印象|地域黑|以偏概全|贴标签|双标|污名|"
            r"不公平|不尊重|无知|荒谬|可笑|站不住脚|没道理|不成立|伤人|冒犯|甩锅)",
        ),
        (
            "verdict_bare",
            r"(?:站不住脚|说不通|不成立|以偏概全|一竿子打|一棍子打|以貌取人|"
            r"太草率|很片面|太片面|不讲道理|没有根据|毫无根据|不靠谱的偏见)",
        ),
        (
            "denied_general",
            r"(?:不是所有|并不是所有|并非所有|不是每个|并不是每个|哪有|哪能|不全是|"
            r"不都是|不能代表|代表不了|不代表|个别|少数人|因人而异|每个人都不一样|"
            r"跟.{1,4}(?:无关|没关系)|和.{1,4}(?:无关|没关系)|分人|看个人)",
        ),
        (
            "disagree",
            r"(?:不同意|不认同|不赞同|不敢苟同|不以为然|我反对|并不认同|不是这样|"
            r"事实并非|恰恰相反|其实不然|未必|不一定)",
        ),
        (
            "group_general",
            r"(?:人|佬|女|男|的|们|族|仔|妹|子|机|性|外|生|友|户|民|孩|娘|婆|妈)(?:都是|都|全都|全是|就是|个个|天生|"
            r"没一个|一个个|永远|向来|生来|基本上都|大多|一向|本来就|骨子里|素质)",
        ),
        (
            "disclaimer",
            r"(?:不是|并非|没有|无意|我不是?|绝不是)"
            r"(?:要|想|在)?(?:歧视|地域黑|针对|黑|偏见|种族主义|性别歧视|搞对立)"
            + _STOP
            + r"{0,4}[^。!?]{0,8}?(?:但|可是|不过|只是|然而)",
        ),
        (
            "approving_frame",
            r"(?:老话说|古话说|俗话说|老人说|老祖宗|古人云|有句话|说得好|说得对|"
            r"说的没错|说得没错|说的对|果然|果不其然|确实如此|没毛病|不无道理|有道理|"
            r"不是没有原因|不是没有道理|诚不欺我|实锤|早就说过|早说了)",
        ),
        (
            "sarcasm",
            r"(?:呵呵|不愧是|真不愧|真行|好一个|真厉害|厉害了|真是厉害|佩服|666|绝了|"
            r"真有你的|真是优秀|太优秀|真聪明|好棒棒|棒棒哒|了不起|不服不行|真会|"
            r"妙啊|可真是|真是难为|辛苦你了|高情商|好大的)",
        ),
        (
            "own_group",
            r"(?:我|我们|咱|咱们|俺|俺们)(?:就是|也是|是|这种|这个|作为|身为|一个)?"
            + _STOP
            + r"{0,4}?(?:人|佬|女生|男生|女人|男人|妹子|姑娘|小伙)",
        ),
        (
            "rhetorical",
            r"(?:凭什么|谁说|谁规定|难道|怎么能|怎么可以|为什么要|有什么资格|"
            r"何必|关.{1,4}什么事)",
        ),
    )
)
_NOT_AFTER = {"verdict": "不非"}
"""A cue that does not count right after one of these characters (不是歧视 is no verdict);
checked by hand, since a look-behind keeps ``re`` from its fast literal scan."""
_MARKS = {"sarcasm": ("??", "!!", "🙄", "🙂", "😅")}
"""Substrings that fire a cue besides its pattern (plain ``in`` tests, faster than ``re``)."""
_QUOTE = re.compile('[“”‘’「」『』"]')
_PAIRS = (
    ("quote+reject", ("quoted", ("refuse_speech", "judged_saying", "verdict", "verdict_bare"))),
    ("quote+report", ("quoted", ("reported_voice",))),
    ("quote+approve", ("quoted", ("approving_frame",))),
    (
        "general+denied",
        ("group_general", ("denied_general", "rhetorical", "verdict_bare", "disagree")),
    ),
    ("general+approve", ("group_general", ("approving_frame", "sarcasm"))),
    (
        "report+reject",
        ("reported_voice", ("refuse_speech", "judged_saying", "verdict", "disagree")),
    ),
)


def cue_names(folded: str) -> list[str]:
    """Names of the stance cues in one folded segment, each once."""
    found = {name for name, rule in _PLAIN if rule.search(folded)}
    found.update(name for name, rule in _SPECIAL if _fires(name, rule, folded))
    if not found:
        return []
    if _QUOTE.search(folded):
        found.add("quoted")
    for pair, (first, others) in _PAIRS:
        if first in found and any(o in found for o in others):
            found.add(pair)
    found.discard("quoted")  # the quote marks are n-grams already; only the pairs add
    return sorted(found)


_PLAIN = tuple((n, r) for n, r in _RULES if n not in _NOT_AFTER and n not in _MARKS)
_SPECIAL = tuple((n, r) for n, r in _RULES if n in _NOT_AFTER or n in _MARKS)


def _fires(name: str, rule: re.Pattern[str], folded: str) -> bool:
    if any(mark in folded for mark in _MARKS.get(name, ())):
        return True
    m = rule.search(folded)
    banned = _NOT_AFTER.get(name, "")
    while m is not None and m.start() > 0 and folded[m.start() - 1] in banned:
        m = rule.search(folded, m.start() + 1)
    return m is not None


CUES = tuple(name for name, _ in _RULES) + tuple(name for name, _ in _PAIRS)
"""Every cue name that ``cue_names`` can return."""
