"""hegui.detect: the only place text is judged.

``Scanner.from_policy(policy).scan(text)`` returns findings with spans in the original
text; ``Scanner.stream()`` gives a ``StreamScanner`` that releases streamed text only
once no finding can still cover it.
"""

from hegui.detect import _classifier, _guard, _keywords, _pii_detector  # noqa: F401  (registers detectors)
from hegui.detect._classifier import ClassifierDetector
from hegui.detect._classifier_model import ClassifierModel
from hegui.detect._guard import HFGuard, OpenAIGuard
from hegui.detect._keywords import CompiledLexicon, LexiconDetector, compile_lexicon
from hegui.detect._lexicon import Lexicon, LexiconEntry, LexiconError, load_lexicon
from hegui.detect._normalize import FoldOptions
from hegui.detect._pii_detector import PiiDetector
from hegui.detect._registry import Detector, DetectorStream, build_detector, detector, registered
from hegui.detect._scanner import Scanner, StreamScanner, apply_actions
from hegui.detect._types import Finding, Release
from hegui.policy._actions import Action, Severity

__all__ = [
    "Action",
    "ClassifierDetector",
    "ClassifierModel",
    "CompiledLexicon",
    "Detector",
    "DetectorStream",
    "Finding",
    "FoldOptions",
    "HFGuard",
    "Lexicon",
    "LexiconDetector",
    "LexiconEntry",
    "LexiconError",
    "OpenAIGuard",
    "PiiDetector",
    "Release",
    "Scanner",
    "Severity",
    "StreamScanner",
    "apply_actions",
    "build_detector",
    "compile_lexicon",
    "detector",
    "load_lexicon",
    "registered",
]
