"""Daphne tuning applied by loading the application (portal/daphne_tuning.py): autobahn's per-connection
debug line pretty-printed only when written, the GIL switch interval, start-up objects frozen."""

from __future__ import annotations

import pprint

from autobahn.websocket import protocol

from portal import asgi  # noqa: F401  (applies the tuning, as Daphne loading the application does)


def test_autobahn_s_debug_formatting_is_deferred_with_the_same_text(monkeypatch):
    config = [("openHandshakeTimeout", 5, "WebSocketServerFactory"), ("utf8validateIncoming", True, "X")]
    deferred = protocol.pformat(config)
    assert f"\n{deferred}" == "\n" + pprint.pformat(config)  # as the log line formats it, when written
    calls = []
    monkeypatch.setattr(pprint.PrettyPrinter, "pformat", lambda self, value: calls.append(value) or "")
    protocol.pformat(config)  # at every connection: nothing pretty-printed
    assert calls == []
    timings = protocol.Timings()
    timings.track("onOpen")
    assert isinstance(str(timings), str)


def test_loading_the_application_shortens_the_gil_switch_interval_to_the_setting(settings):
    import sys

    from portal.daphne_tuning import shorten_gil_switch_interval

    assert sys.getswitchinterval() == settings.ASGI_SWITCH_INTERVAL < 0.005  # set by portal.asgi's import
    before = sys.getswitchinterval()
    try:
        shorten_gil_switch_interval(0)  # 0: left as it is
        assert sys.getswitchinterval() == before
        shorten_gil_switch_interval(0.002)
        assert sys.getswitchinterval() == 0.002
    finally:
        sys.setswitchinterval(before)


def test_loading_the_application_freezes_start_up_objects_out_of_the_collector():
    import gc

    assert gc.get_freeze_count() > 10_000  # Django and the apps, loaded by portal.asgi's import
