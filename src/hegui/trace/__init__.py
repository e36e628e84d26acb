"""Traceability: GB 45438 labels in files and text, C2PA manifests, text watermarks.

``FileLabeler(policy.labels, signer=key).add(path, producer)`` writes the signed
implicit label (and, where asked, the visible notice) into PNG, JPEG, WebP, WAV, MP3,
FLAC, Ogg, MP4, Markdown and plain text; ``check`` reads and verifies it. The text
watermark is a keyed green list (Kirchenbauer et al. 2023) applied as a transformers
logits processor and detected from the text alone. See ``docs/trace.md``.
"""

from hegui.trace import _audio, _images, _text  # noqa: F401  (register the carriers)
from hegui.trace._c2pa import C2paSigner, C2paSummary, add_c2pa_manifest, read_c2pa_manifest
from hegui.trace._carrier import Carrier, Embedded, Media, carrier_for, carriers, register_carrier
from hegui.trace._errors import (
    CarrierError,
    LabelError,
    TraceError,
    UnsupportedFormat,
    WatermarkError,
)
from hegui.trace._files import Explicit, FileCheck, FileLabeler, LabeledFile
from hegui.trace._label import (
    RESERVED1,
    RESERVED2,
    STANDARD_KEYS,
    AIGCLabel,
    LabelRules,
    new_content_id,
)
from hegui.trace._signature import (
    SignatureCheck,
    SignatureStatus,
    check_producer,
    load_public_keys,
    load_signing_key,
    sign_as_producer,
    sign_as_propagator,
    verify_label,
)
from hegui.trace._text import add_text_label, find_text_label, has_text_label, text_notice
from hegui.trace._visible import DrawnLabel, draw_image_label, font_path
from hegui.trace._watermark import (
    DEFAULT_FPR,
    GREEDY_DELTA,
    GreenList,
    TokenEncoder,
    WatermarkDetector,
    WatermarkKey,
    WatermarkParams,
    WatermarkResult,
    binomial_p_values,
    load_tokenizer,
    logits_processor,
    p_value,
    vllm_logits_processor,
    z_score,
)
from hegui.trace._xmp import TRAINED_ALGORITHMIC_MEDIA, XmpFields, build_xmp, read_xmp

__all__ = [
    "DEFAULT_FPR",
    "GREEDY_DELTA",
    "RESERVED1",
    "RESERVED2",
    "STANDARD_KEYS",
    "TRAINED_ALGORITHMIC_MEDIA",
    "AIGCLabel",
    "C2paSigner",
    "C2paSummary",
    "Carrier",
    "CarrierError",
    "DrawnLabel",
    "Embedded",
    "Explicit",
    "FileCheck",
    "FileLabeler",
    "GreenList",
    "LabelError",
    "LabelRules",
    "LabeledFile",
    "Media",
    "SignatureCheck",
    "SignatureStatus",
    "TokenEncoder",
    "TraceError",
    "UnsupportedFormat",
    "WatermarkDetector",
    "WatermarkError",
    "WatermarkKey",
    "WatermarkParams",
    "WatermarkResult",
    "XmpFields",
    "add_c2pa_manifest",
    "add_text_label",
    "binomial_p_values",
    "build_xmp",
    "carrier_for",
    "carriers",
    "check_producer",
    "draw_image_label",
    "find_text_label",
    "font_path",
    "has_text_label",
    "load_public_keys",
    "load_signing_key",
    "load_tokenizer",
    "logits_processor",
    "new_content_id",
    "p_value",
    "read_c2pa_manifest",
    "read_xmp",
    "register_carrier",
    "sign_as_producer",
    "sign_as_propagator",
    "text_notice",
    "verify_label",
    "vllm_logits_processor",
    "z_score",
]
