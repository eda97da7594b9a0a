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
    ("METRICS_ALLOW", "127.0.0.1/8,prometheus", "CIDR"),
])
def test_bad_values_name_the_variable(name, value, says):
    """The message names the variable, the value and what would be right."""
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert name in str(error.value) and says in str(error.value)


@pytest.mark.parametrize(("token", "says"), [
    ("change-me-to-a-long-random-string", "placeholder of .env.example"),
    ("s3cret", "6 characters long, under the 32 required"),
    ("x" * 31, "31 characters long"),
])
def test_a_guessable_admin_token_refuses_to_start(token, says):
    """The .env.example placeholder and tokens under 32 characters stop start-up, with the command that
    makes a good one, and without repeating the token."""
    from service import create_app

    with pytest.raises(SettingsError) as error:
        create_app({"ADMIN_TOKEN": token})
    message = str(error.value)
    assert says in message and 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert token not in message


@pytest.mark.parametrize("token", ["", "0123456789abcdef" * 2, "Zr0v9c3f2yPq8WcJtqkS0h3vO4pD7mXbLwA1nEo6uIk"])
def test_an_empty_or_long_admin_token_is_accepted(token):
    """Empty turns the admin API off (403); 32 characters and more of enough kinds are accepted."""
    assert Settings.from_env({"ADMIN_TOKEN": token}).ADMIN_TOKEN == token


def test_env_example_ships_the_refused_placeholder():
    """.env.example's ADMIN_TOKEN is exactly the placeholder the settings refuse."""
    from pathlib import Path

    from service.settings import ADMIN_TOKEN_PLACEHOLDER

    lines = (Path(__file__).parent.parent / ".env.example").read_text().splitlines()
    assert f"ADMIN_TOKEN={ADMIN_TOKEN_PLACEHOLDER}" in lines


@pytest.mark.parametrize("token", ["a" * 32, "ab" * 20, "abcd" * 12])
def test_a_long_but_predictable_admin_token_is_refused(token):
    """A token of 32 or more characters built from very few distinct ones is refused, without echoing it."""
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"ADMIN_TOKEN": token})
    assert "too predictable" in str(error.value) and token not in str(error.value)
