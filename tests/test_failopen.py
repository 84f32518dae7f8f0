"""Failing open (plans/failopen.py): a dead cache gives the default and a warning; a breaker skips it for a while."""

import logging
import time

import pytest
from django.core.cache.backends.redis import RedisCache

from plans.failopen import Breaker, fail_open


@pytest.fixture
def dead_cache():
    """A Redis cache on a port nobody listens on: every call fails to connect."""
    return RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})


@pytest.fixture
def calls(dead_cache):
    """The calls made to the dead cache, each of which raises."""
    made = []

    def get():
        made.append("get")
        return dead_cache.get("key")

    get.made = made
    return get


def test_an_answer_is_returned_and_nothing_logged(caplog):
    with caplog.at_level(logging.WARNING):
        assert fail_open(lambda: 3, 0, "nothing is counted") == 3
    assert caplog.records == []


def test_a_dead_cache_gives_the_default_and_a_warning_with_the_error(dead_cache, caplog):
    with caplog.at_level(logging.WARNING, logger="plans.failopen"):
        assert fail_open(lambda: dead_cache.get("key"), "default", "plan %s is not counted", 7) == "default"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Cache unavailable; plan 7 is not counted"
    assert record.exc_info is not None


def test_without_a_breaker_every_call_tries_the_cache(calls):
    for _ in range(2):
        assert fail_open(calls, None, "nothing is counted") is None
    assert calls.made == ["get", "get"]


def test_a_failure_marks_the_breaker_down_and_later_calls_skip_the_cache(calls, caplog):
    breaker = Breaker(30)
    with caplog.at_level(logging.WARNING, logger="plans.failopen"):
        for _ in range(3):
            assert fail_open(calls, False, "nothing is counted", breaker=breaker) is False
    assert breaker.is_down()
    assert calls.made == ["get"]
    assert len(caplog.records) == 1  # one warning per outage window, not one per request


def test_calls_resume_once_the_breaker_is_no_longer_down(calls):
    breaker = Breaker(0.3)
    fail_open(calls, None, "nothing is counted", breaker=breaker)
    fail_open(calls, None, "nothing is counted", breaker=breaker)
    assert calls.made == ["get"]
    time.sleep(0.4)
    assert not breaker.is_down()
    fail_open(calls, None, "nothing is counted", breaker=breaker)
    assert calls.made == ["get", "get"]


def test_an_answer_after_the_breaker_reopens_is_returned(calls):
    breaker = Breaker(30)
    fail_open(calls, None, "nothing is counted", breaker=breaker)
    breaker.reset()
    assert fail_open(lambda: 3, 0, "nothing is counted", breaker=breaker) == 3
