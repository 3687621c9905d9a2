"""Start-up: torchmetrics is told, as it loads, that transformers is absent (archtrain/startup.py)."""

import sys

from archtrain import startup
from archtrain.startup import _AfterImport


def test_a_module_is_changed_right_after_it_executes_before_anyone_imports_from_it(tmp_path, monkeypatch):
    package = tmp_path / "flagpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "flags.py").write_text("HEAVY = True\n")
    (package / "user.py").write_text("from flagpkg.flags import HEAVY\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    sys.meta_path.insert(0, _AfterImport("flagpkg.flags", lambda module: setattr(module, "HEAVY", False)))
    try:
        import flagpkg.user

        assert flagpkg.user.HEAVY is False
        assert not any(isinstance(finder, _AfterImport) for finder in sys.meta_path)  # once only
    finally:
        for name in ("flagpkg", "flagpkg.flags", "flagpkg.user"):
            sys.modules.pop(name, None)


def test_the_transformers_flags_are_cleared_and_nothing_is_hooked_once_torchmetrics_is_loaded(monkeypatch):
    class Flags:
        _TRANSFORMERS_GREATER_EQUAL_4_4 = _TRANSFORMERS_GREATER_EQUAL_4_10 = True

    startup._without_transformers(Flags)
    assert not Flags._TRANSFORMERS_GREATER_EQUAL_4_4 and not Flags._TRANSFORMERS_GREATER_EQUAL_4_10
    import torchmetrics  # noqa: F401

    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    startup.skip_unused_imports()
    assert not any(isinstance(finder, _AfterImport) for finder in sys.meta_path)
