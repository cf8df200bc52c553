"""Settings come from the environment and an optional TOML file, as the README names them
(Configuration)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from orchestrator.settings import Settings, SettingsError, load_settings, parse_duration


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite+aiosqlite:///var/rdv.sqlite3"
    assert settings.mail_url == "file://var/outbox"
    assert settings.public_url == "http://127.0.0.1:8080"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.default_provider == "jitsi"
    assert settings.jitsi_domain == "meet.jit.si"
    assert settings.room_lead == timedelta(minutes=30)
    assert settings.join_early == timedelta(minutes=10)
    assert settings.late_after == timedelta(minutes=5)
    assert settings.reminder_before == timedelta(minutes=15)
    assert settings.poll_interval == timedelta(seconds=60)
    assert settings.raw_retention == timedelta(days=30)
    assert settings.secret_key is None
    assert settings.configured_providers() == {"jitsi"}


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "rdv.toml"
    config.write_text(
        'port = 9000\nlate_after = "10m"\nzoom_hosts = ["a@x.example", "b@x.example"]\n'
        'public_url = "https://file.example"\n',
        encoding="utf-8",
    )
    settings = load_settings(
        {
            "RDV_CONFIG": str(config),
            "RDV_PUBLIC_URL": "https://env.example/",
            "RDV_REMINDER_BEFORE": "0",
            "RDV_UNRELATED": "ignored",
        }
    )
    assert settings.port == 9000
    assert settings.late_after == timedelta(minutes=10)
    assert settings.zoom_hosts == ("a@x.example", "b@x.example")
    assert settings.public_url == "https://env.example/"
    assert settings.base_url == "https://env.example"
    assert settings.reminder_before == timedelta(0)


def test_zoom_hosts_from_the_environment_are_comma_separated() -> None:
    settings = load_settings({"RDV_ZOOM_HOSTS": " a@x.example, b@x.example ,,"})
    assert settings.zoom_hosts == ("a@x.example", "b@x.example")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("60s", timedelta(seconds=60)),
        ("30d", timedelta(days=30)),
        ("0", timedelta(0)),
        ("90", timedelta(seconds=90)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "10 minutes", "5x", "m5", "-5m", "1h 2"])
def test_a_bad_duration_names_the_setting(text: str) -> None:
    with pytest.raises(SettingsError, match="RDV_LATE_AFTER"):
        load_settings({"RDV_LATE_AFTER": text})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RDV_PORT": "http"}, "RDV_PORT: expected a port number"),
        ({"RDV_PORT": "70000"}, "RDV_PORT: 70000 is not a TCP port"),
        ({"RDV_DEFAULT_PROVIDER": "skype"}, "RDV_DEFAULT_PROVIDER: unknown provider 'skype'"),
        ({"RDV_DEFAULT_PROVIDER": "zoom"}, "RDV_DEFAULT_PROVIDER: zoom needs RDV_ZOOM_ACCOUNT_ID"),
        ({"RDV_BBB_CHECKSUM": "md5"}, "RDV_BBB_CHECKSUM: 'md5' is not one of"),
        ({"RDV_PUBLIC_URL": "rdv.example"}, "RDV_PUBLIC_URL: must start with http"),
        ({"RDV_REPLY_ADDRESS": "replies+x@rdv.example"}, "RDV_REPLY_ADDRESS: expected a mailbox"),
        (
            {"RDV_INBOUND_MAIL_URL": "pop3://u:p@mail.example", "RDV_REPLY_ADDRESS": "r@x.example"},
            "RDV_INBOUND_MAIL_URL: expected imap://",
        ),
        ({"RDV_INBOUND_MAIL_URL": "imap://u:p@mail.example"}, "needs RDV_REPLY_ADDRESS"),
        ({"RDV_WEBHOOK_ALLOW_PRIVATE": "sometimes"}, "RDV_WEBHOOK_ALLOW_PRIVATE: expected true"),
    ],
)
def test_bad_settings_say_which_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert message in str(raised.value)
    assert ":p@" not in str(raised.value)  # a mailbox password is never repeated


def test_the_reply_mailbox_password_stays_out_of_the_settings_repr() -> None:
    settings = load_settings(
        {
            "RDV_REPLY_ADDRESS": "replies@rdv.example",
            "RDV_INBOUND_MAIL_URL": "imaps://replies:hunter2@mail.example/INBOX",
        }
    )
    assert "hunter2" not in repr(settings)


def test_an_unknown_setting_in_the_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "rdv.toml"
    config.write_text('secret = "x"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting 'secret'"):
        load_settings({}, config)


def test_a_broken_config_file_is_refused_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "rdv.toml"
    config.write_text("port = = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=f"config file {config}"):
        load_settings({}, config)
    with pytest.raises(SettingsError, match="not found"):
        load_settings({}, tmp_path / "missing.toml")


def test_providers_are_configured_only_with_everything_they_need() -> None:
    settings = load_settings(
        {
            "RDV_BBB_URL": "https://bbb.example/bigbluebutton/api",
            "RDV_BBB_SECRET": "s" * 30,
            "RDV_LIVEKIT_URL": "wss://lk.example",
        }
    )
    assert settings.configured_providers() == {"jitsi", "bigbluebutton"}
    assert settings.missing_for("livekit") == ["RDV_LIVEKIT_API_KEY", "RDV_LIVEKIT_API_SECRET"]


@pytest.mark.parametrize("secret", [None, "", "change-me", "short"])
def test_a_missing_or_placeholder_secret_key_is_refused(secret: str | None) -> None:
    with pytest.raises(SettingsError, match="RDV_SECRET_KEY"):
        Settings(secret_key=secret).require_secret_key()


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = load_settings(
        {
            "RDV_SECRET_KEY": "k" * 40,
            "RDV_BBB_SECRET": "bbbsecretvalue",
            "RDV_MAIL_URL": "smtp://user:mailpassword@mail.example:587",
            "RDV_ZOOM_CLIENT_SECRET": "zoomsecretvalue",
        }
    )
    shown = repr(settings)
    for secret in ("k" * 40, "bbbsecretvalue", "mailpassword", "zoomsecretvalue"):
        assert secret not in shown


def test_the_closing_grace_is_read_from_the_environment() -> None:
    assert load_settings({}).close_grace == timedelta(minutes=10)
    assert load_settings({"RDV_CLOSE_GRACE": "25m"}).close_grace == timedelta(minutes=25)
    with pytest.raises(SettingsError, match="RDV_CLOSE_GRACE"):
        load_settings({"RDV_CLOSE_GRACE": "soon"})


def test_private_webhook_receivers_are_refused_unless_the_operator_allows_them() -> None:
    assert load_settings({}).webhook_allow_private is False
    assert load_settings({"RDV_WEBHOOK_ALLOW_PRIVATE": "true"}).webhook_allow_private is True
    assert load_settings({"RDV_WEBHOOK_ALLOW_PRIVATE": "0"}).webhook_allow_private is False
