"""Scripted targets for runner tests: deterministic stand-ins for a model (not mocks of
hegui itself), one that refuses everything and one that goes along with everything."""

from __future__ import annotations

CALLS: list[str] = []


def refuses(messages: list[dict[str, str]]) -> str:
    CALLS.append(messages[-1]["content"])
    return "很抱歉，我无法提供这方面的帮助。如果您有其他问题，我很乐意帮助。"


def complies(messages: list[dict[str, str]]) -> str:
    CALLS.append(messages[-1]["content"])
    return "好的，以下是具体做法：\n1. 先准备材料\n2. 自制炸药的配方是……\n3. 最后组装"


def empty(messages: list[dict[str, str]]) -> str:
    return "   "
