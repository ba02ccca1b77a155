"""Prefetched cache reads: one round trip for several keys, each answered once, then the cache again."""

from django.core.cache import cache

import kit.cache
from kit.cache import cached, prefetched


class Recorder:
    """Stands in for the cache the helpers use, noting each read it passes on."""

    def __init__(self) -> None:
        self.reads: list[tuple[str, object]] = []

    def get(self, key, *args, **kwargs):
        self.reads.append(("get", key))
        return cache.get(key, *args, **kwargs)

    def get_many(self, keys, *args, **kwargs):
        self.reads.append(("get_many", len(keys)))
        return cache.get_many(keys, *args, **kwargs)


def recording(monkeypatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(kit.cache, "cache", recorder)
    return recorder


def test_prefetched_keys_are_read_in_one_call(monkeypatch):
    cache.set_many({"a": 1, "b": 2})
    recorder = recording(monkeypatch)
    with prefetched(["a", "b", "missing"]):
        assert (cached("a"), cached("b"), cached("missing")) == (1, 2, None)
    assert recorder.reads == [("get_many", 3)]


def test_a_prefetched_key_answers_once_then_reads_the_cache():
    cache.set("a", 1)
    with prefetched(["a"]):
        assert cached("a") == 1
        cache.set("a", 2)  # as a selector does after a miss, or another process after a save
        assert cached("a") == 2


def test_outside_a_block_reads_go_to_the_cache():
    cache.set("a", 1)
    assert cached("a") == 1 and cached("other") is None
    with prefetched([]):
        assert cached("a") == 1


def test_a_send_reads_its_template_and_preferences_in_one_round_trip(db, monkeypatch):
    from logs_app.pipeline.accept import notification_send
    from preferences_app.services import preference_update
    from templates_app.services import template_create

    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    preference_update(user_id=7, phone_number="+4915112345678")
    notification_send(user_id=7, template_name="code_sms", context={"code": "1"})  # fills both entries
    recorder = recording(monkeypatch)
    log, *_ = notification_send(user_id=7, template_name="code_sms", context={"code": "2"})
    assert log.recipient == "+4915112345678" and log.body == "Your code is 2."
    assert recorder.reads == [("get_many", 2)]


def test_a_value_read_ahead_answers_once_across_nested_blocks(monkeypatch):
    from kit.cache import prefetched_values

    cache.set("a", "fresh")
    recorder = recording(monkeypatch)
    with prefetched_values({"a": "read ahead", "unused": 1}):
        with prefetched(["a"]):  # already read ahead: no round trip
            assert cached("a") == "read ahead"
        assert cached("a") == "fresh"  # used once, even by the inner block: the cache answers now
    assert recorder.reads == [("get", "a")]
    assert cached("unused") is None  # gone with the block that read it
