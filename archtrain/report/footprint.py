"""A compressed run's footprint beside its source run's, as table cells (no torch: `archtrain list` reads it)."""

FIGURES = {  # column -> how to read it from a footprint entry
    "file": lambda f: f.get("file_bytes"),
    "non-zero": lambda f: f.get("nonzero_parameters"),
    "µs/ex b1": lambda f: (f.get("latency_us") or {}).get("batch_1"),
    "µs/ex b64": lambda f: (f.get("latency_us") or {}).get("batch_64"),
    "key metric": lambda f: f.get("value"),
}


def _short(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and value >= 10_000:
        return f"{value / 1000:.0f}k" if value < 10**6 else f"{value / 10**6:.1f}M"
    return f"{value:.4g}" if isinstance(value, float) else f"{value:,}"


def side_by_side(summary: dict) -> list[str]:
    """One cell per FIGURES column: 'this (source)', or '' for a run without a footprint."""
    footprint = summary.get("footprint") or {}
    if not footprint:
        return [""] * len(FIGURES)
    model, source = footprint.get("model") or {}, footprint.get("source") or {}
    return [
        f"{_short(read(model))} ({_short(read(source))})" if source else _short(read(model))
        for read in FIGURES.values()
    ]


def in_brief(summary: dict) -> str:
    """'4.0x smaller, 10% non-zero, test/acc -0.003' against the source run; '' without a footprint."""
    footprint = summary.get("footprint") or {}
    model, source = footprint.get("model") or {}, footprint.get("source") or {}
    if not model:
        return ""
    parts = []
    if source.get("file_bytes") and model.get("file_bytes"):
        parts.append(f"{source['file_bytes'] / model['file_bytes']:.1f}x smaller")
    if model.get("parameters"):
        parts.append(f"{model['nonzero_parameters'] / model['parameters']:.0%} non-zero")
    if model.get("value") is not None and source.get("value") is not None:
        parts.append(f"{model['metric']} {model['value'] - source['value']:+.3f}")
    return ", ".join(parts)
