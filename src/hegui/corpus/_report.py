"""report.html: the run's summary for people, rendered from summary.json alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

_PAGE = """<!doctype html><html lang=zh><meta charset=utf-8>
<title>hegui corpus · {{ s.corpus.name }} {{ s.corpus.version }}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left}.num{text-align:right}
.ok{background:#e8f6e8}.bad{background:#fbe3e3}.warn{background:#fff6d6}
.verdict{font-size:1.6em;padding:.4em;color:#fff}
.v-pass{background:#2a7}.v-fail{background:#c33}.v-pending{background:#c80}
small{color:#666}code{background:#f3f3f3;padding:0 3px}
</style>
<h1>Training-corpus governance · 训练语料安全评估</h1>
<p class="verdict v-{{ s.verdict }}">Verdict 结论: {{ s.verdict | upper }}</p>
<p>{{ s.corpus.name }} {{ s.corpus.version }} · owner {{ s.corpus.owner }} ·
policy {{ s.policy.id }} {{ s.policy.version }} · detectors {{ s.detectors | join(", ") }} ·
seed {{ s.seed }}</p>
<p>{{ t.sources }} sources · {{ t.files }} files · {{ mb(t.input_bytes) }} as stored ·
{{ "{:,}".format(t.docs) }} documents · {{ mb(t.bytes) }} of text ·
rejected {{ "{:,}".format(t.status.rejected) }} · cleaned (PII masked) {{ "{:,}".format(t.status.cleaned) }}</p>
{% if s.unread.records or s.unread.files %}
<p class=warn>Could not be read: {{ s.unread.records }} records and {{ s.unread.files }} whole
file(s) ({% for k, v in s.unread.problems.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}{% endfor %});
see <code>problems.jsonl</code>. The automated coverage below counts them as not checked.</p>
{% endif %}
<h2>Checks 指标</h2>
<table><tr><th>check</th><th>value</th><th>result</th></tr>
{% for c in s.checks %}
<tr class="{{ 'ok' if c.passed else ('warn' if c.passed is none or not c.blocking else 'bad') }}">
<td>{{ c.name }}</td><td class=num>{{ '' if c.value is none else ('%.4g' % c.value) }}</td>
<td>{{ 'pending' if c.passed is none else ('pass' if c.passed else ('FAIL' if c.blocking else 'short')) }}</td></tr>
{% endfor %}</table>
<h2>Sources 来源</h2>
<table><tr><th>source</th><th>origin · licence · basis</th><th>collected</th><th>language</th>
<th class=num>docs</th><th class=num>text</th><th class=num>rejected</th>
<th class=num>sample illegal</th><th>gate</th><th class=num>exact dup</th><th class=num>near dup</th></tr>
{% for src in s.sources %}
<tr class="{{ 'ok' if src.gate.passed else 'bad' }}"><td><b>{{ src.id }}</b><br><small>{{ src.owner }}</small></td>
<td>{{ src.origin }}<br><small>{{ src.license }} · {{ src.legal_basis }}{% if src.legal_basis_note %} · {{ src.legal_basis_note }}{% endif %}</small></td>
<td>{{ src.collected }}</td>
<td>{{ src.language | join(", ") }}<br><small>{{ pct(src.mostly_cjk_share) }} mostly CJK</small></td>
<td class=num>{{ "{:,}".format(src.docs) }}</td><td class=num>{{ mb(src.bytes) }}</td>
<td class=num>{{ pct(src.rejected_share) }}</td>
<td class=num>{{ pct(src.sample.value) }}<br><small>n={{ src.sample.n }}, 95% {{ pct(src.sample.ci95[0]) }}–{{ pct(src.sample.ci95[1]) }}</small></td>
<td>{{ 'pass' if src.gate.passed else 'FAIL' }}</td>
<td class=num>{{ src.duplicates.exact_within + src.duplicates.exact_across }}<br><small>{{ src.duplicates.exact_across }} across</small></td>
<td class=num>{{ src.duplicates.near_within + src.duplicates.near_across }}<br><small>{{ src.duplicates.near_across }} across</small></td></tr>
{% endfor %}</table>
<h2>Findings by risk 分风险</h2>
{% for src in s.sources %}{% if src.risks %}
<h3>{{ src.id }}</h3><table><tr><th>risk</th><th>名称</th><th>name</th><th class=num>documents</th>
<th class=num>findings</th><th>actions</th></tr>
{% for rid, r in src.risks.items() %}<tr><td>{{ rid }}</td><td>{{ r.name_zh }}</td><td>{{ r.name_en }}</td>
<td class=num>{{ r.docs }}</td><td class=num>{{ r.findings }}</td>
<td>{% for a, n in r.actions.items() %}{{ a }} {{ n }} {% endfor %}</td></tr>{% endfor %}
</table>{% endif %}{% endfor %}
<h2>Personal information 个人信息</h2>
<table><tr><th>source</th><th>kind</th><th>action</th><th class=num>found</th></tr>
{% for src in s.sources %}{% for key, n in src.pii.items() %}{% set kind, action = key.split("|") %}
<tr><td>{{ src.id }}</td><td>{{ kind }}</td><td>{{ action }}</td><td class=num>{{ n }}</td></tr>
{% endfor %}{% endfor %}</table>
<p><small>Masked values are replaced by <code>*</code> in <code>cleaned/</code>; personal data is
never copied into the attribute files.</small></p>
<h2>Manual review 人工抽检</h2>
{% if s.manual.status == "pending" %}<p class=warn>Pending: {{ s.manual.sample_size }} documents
in <code>{{ s.manual.sheet }}</code> await labels; then <code>hegui corpus review import</code>.</p>
{% else %}<p>{{ s.manual.labeled }} labeled · qualified {{ pct(s.manual.qualified_rate.value) }}
(95% {{ pct(s.manual.qualified_rate.ci95[0]) }}–{{ pct(s.manual.qualified_rate.ci95[1]) }}) ·
agreement with the automated verdict {{ pct(s.manual.agreement.rate) }}</p>{% endif %}
<h2>Method 方法</h2>
<p>Every document passes the pack's detectors ({{ s.detectors | join(", ") }}). A document with a
finding whose action is <code>block</code> is rejected (kept apart in <code>rejected/</code> with
its reasons) and counts as illegal or harmful; <code>mask</code> findings are masked in
<code>cleaned/</code>. Each source is judged on a seeded random sample; the corpus on every
document read. Duplicates: exact (same text) and near (MinHash, {{ s.dedup.num_perm }}
permutations, {{ s.dedup.bands }} bands, {{ s.dedup.ngram }}-character shingles, estimated
Jaccard similarity of at least {{ s.dedup.threshold }}), listed in <code>duplicates.parquet</code>.</p>
</html>
"""


def _mb(n: int | None) -> str:
    return "" if n is None else f"{n / 1e6:,.1f} MB"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_TEMPLATE = _ENV.from_string(_PAGE)


def write_report(summary: dict[str, Any], out: Path) -> Path:
    """Render report.html into the run directory."""
    path = out / "report.html"
    page = _TEMPLATE.render(s=summary, t=summary["totals"], mb=_mb, pct=_pct)
    path.write_text(page, encoding="utf-8")
    return path
