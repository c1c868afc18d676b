"""The pipeline's own TFX components."""


def __getattr__(name: str):
    """`components.HeadReport`: the report's artifact type, imported by its KFP schema title (lazily)."""
    if name == "HeadReport":
        from components.report.component import HeadReport

        return HeadReport
    raise AttributeError(f"module 'components' has no attribute {name!r}")
