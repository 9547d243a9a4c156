"""Config: typed parsing, validation with one clear line, .env handling."""

from __future__ import annotations

import pytest

from common.config import BaseConfig, ConfigError, GatewayConfig, NotifyConfig

SECRET = "s" * 40


def test_defaults_match_the_design():
    notify = NotifyConfig.from_env({"JWT_SECRET": SECRET}, dotenv=None)
    assert notify.NOTIFY_PORT == 3006
    assert notify.JWT_ALGORITHMS == ("HS256",)
    assert notify.AUTH_TIMEOUT == 10
    assert notify.DATABASE_URL.startswith("sqlite:///")
    assert notify.REDIS_URL is None
    gateway = GatewayConfig.from_env({"JWT_SECRET": SECRET})
    assert gateway.PORT == 3000
    assert gateway.NOTIFY_URL == ("http://127.0.0.1:3006",)


def test_typed_values_are_parsed():
    config = GatewayConfig.from_env({
        "JWT_SECRET": SECRET, "PORT": " 8080 ", "NOTIFY_URL": "http://a:1, http://b:2",
        "UPSTREAM_READ_TIMEOUT": "2.5", "JWT_ALGORITHMS": "HS256,HS512", "JWT_LEEWAY": "5",
    })
    assert config.PORT == 8080
    assert config.NOTIFY_URL == ("http://a:1", "http://b:2")
    assert config.UPSTREAM_READ_TIMEOUT == 2.5
    assert config.JWT_ALGORITHMS == ("HS256", "HS512")


@pytest.mark.parametrize("env, variable", [
    ({"PORT": "eighty"}, "PORT"),
    ({"PORT": "70000"}, "PORT"),
    ({"JWT_ALGORITHMS": "HS256,none"}, "JWT_ALGORITHMS"),
    ({"JWT_ALGORITHMS": "XS999"}, "JWT_ALGORITHMS"),
    ({"JWT_SECRET": "short"}, "JWT_SECRET"),
    ({"JWT_SECRET": ""}, "JWT_SECRET"),
    ({"JWT_ALGORITHMS": "RS256"}, "JWT_PUBLIC_KEY"),
    ({"JWT_LEEWAY": "-1"}, "JWT_LEEWAY"),
    ({"UPSTREAM_READ_TIMEOUT": "nan"}, "UPSTREAM_READ_TIMEOUT"),
    ({"NOTIFY_URL": "ftp://x"}, "NOTIFY_URL"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ({"CORS_ALLOWED_ORIGINS": "example.com"}, "CORS_ALLOWED_ORIGINS"),
])
def test_wrong_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as caught:
        GatewayConfig.from_env({"JWT_SECRET": SECRET, **env})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable + ":")
    assert "\n" not in str(caught.value)


def test_environment_wins_over_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"JWT_SECRET={SECRET}\nNOTIFY_PORT=4000\nAUTH_TIMEOUT=3\n")
    config = NotifyConfig.from_env({"NOTIFY_PORT": "5000"}, dotenv=dotenv)
    assert (config.JWT_SECRET, config.NOTIFY_PORT, config.AUTH_TIMEOUT) == (SECRET, 5000, 3.0)


def test_public_key_may_be_given_on_one_line():
    config = BaseConfig.from_env({"JWT_ALGORITHMS": "RS256",
                                  "JWT_PUBLIC_KEY": "-----BEGIN-----\\nabc\\n-----END-----"})
    assert config.JWT_PUBLIC_KEY == "-----BEGIN-----\nabc\n-----END-----"


def test_every_setting_is_documented_in_env_example():
    from tests.support import ROOT

    example = (ROOT / ".env.example").read_text()
    for config_class in (NotifyConfig, GatewayConfig):
        for name, _default, doc in config_class.documented():
            assert doc
            assert f"{name}=" in example, f"{name} is missing from .env.example"


def test_platform_postgres_urls_get_the_shipped_driver():
    for given in ("postgres://u:p@db:5432/n", "postgresql://u:p@db:5432/n"):
        config = NotifyConfig.from_env({"JWT_SECRET": SECRET, "DATABASE_URL": given})
        assert config.DATABASE_URL == "postgresql+pg8000://u:p@db:5432/n"
    sqlite = NotifyConfig.from_env({"JWT_SECRET": SECRET, "DATABASE_URL": "sqlite:///x.db"})
    assert sqlite.DATABASE_URL == "sqlite:///x.db"
