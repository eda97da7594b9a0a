"""Settings come from the environment and a bad value stops start-up with a clear message."""

from __future__ import annotations

import pytest

from service.settings import Settings, SettingsError


def test_defaults_match_the_spec():
    """Five-minute online window, 30-minute visits, Ho Chi Minh City, Monday weeks."""
    s = Settings.from_env({})
    assert (s.ONLINE_WINDOW_SECONDS, s.VISIT_TIMEOUT_SECONDS, s.DEFAULT_TIMEZONE, s.WEEK_START,
            s.TRUSTED_PROXIES, s.VISITOR_HITS_PER_MINUTE) == (300, 1800, "Asia/Ho_Chi_Minh", "monday", 0, 60)


def test_environment_values_are_converted():
    s = Settings.from_env({"ONLINE_WINDOW_SECONDS": " 120 ", "WEEK_START": "Sunday", "COUNTERS_CACHE_SECONDS": "2.5"})
    assert (s.ONLINE_WINDOW_SECONDS, s.WEEK_START, s.week_start_index, s.COUNTERS_CACHE_SECONDS) == \
        (120, "sunday", 6, 2.5)


@pytest.mark.parametrize(("name", "value", "says"), [
    ("ONLINE_WINDOW_SECONDS", "five", "ONLINE_WINDOW_SECONDS='five'"),
    ("ONLINE_WINDOW_SECONDS", "0", "1 to 86400"),
    ("VISIT_TIMEOUT_SECONDS", "-5", "1 to 86400"),
    ("DEFAULT_TIMEZONE", "Asia/Saigon City", "IANA"),
    ("WEEK_START", "funday", "monday"),
    ("TRUSTED_PROXIES", "-1", "proxy hops"),
    ("REDIS_URL", "http://localhost", "redis://"),
    ("VISITOR_HITS_PER_MINUTE", "0", "at least 1"),
    ("LOG_LEVEL", "LOUD", "DEBUG"),
])
def test_bad_values_name_the_variable(name, value, says):
    """The message names the variable, the value and what would be right."""
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert name in str(error.value) and says in str(error.value)
