"""SMS backends, and sending only once the transaction commits."""

import contextlib
import io
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from counter.models import SmsMessage
from counter.sms import (
    BaseBackend,
    ConsoleBackend,
    OutboxBackend,
    get_backend,
    send_sms,
)

TO = "+201012345678"


class FailingBackend(BaseBackend):
    def send(self, *, to, body):
        raise ConnectionError("gateway down")


def test_without_a_setting_the_outbox_backend_is_used(settings):
    del settings.SMS_BACKEND
    assert type(get_backend()) is OutboxBackend


def test_the_setting_chooses_the_backend(settings):
    settings.SMS_BACKEND = "counter.sms.ConsoleBackend"
    assert type(get_backend()) is ConsoleBackend


@pytest.mark.parametrize("path", ["counter.sms.NoSuchBackend", "nowhere.Backend", "counter.sms"])
def test_a_backend_that_cannot_be_imported_is_a_configuration_error(settings, path):
    settings.SMS_BACKEND = path
    with pytest.raises(ImproperlyConfigured):
        get_backend()


def test_a_class_that_is_not_a_backend_is_a_configuration_error(settings):
    settings.SMS_BACKEND = "counter.models.SmsMessage"
    with pytest.raises(ImproperlyConfigured):
        get_backend()


def test_the_outbox_backend_writes_the_message_as_sent(db):
    OutboxBackend().send(to=TO, body="رمز 123456")
    message = SmsMessage.objects.get()
    assert (message.to, message.body) == (TO, "رمز 123456")
    assert message.sent_at is not None
    assert message.backend == "counter.sms.OutboxBackend"


def test_the_console_backend_prints_the_message_and_keeps_it_in_the_outbox(db):
    stream = io.StringIO()
    ConsoleBackend(stream=stream).send(to=TO, body="code 654321")
    assert TO in stream.getvalue() and "code 654321" in stream.getvalue()
    assert SmsMessage.objects.get().backend == "counter.sms.ConsoleBackend"


def test_the_console_backend_prints_to_stdout_by_default(db, capsys):
    ConsoleBackend().send(to=TO, body="code 111222")
    assert "code 111222" in capsys.readouterr().out


def test_a_message_is_sent_only_when_the_transaction_commits(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        send_sms(to=TO, body="hello")
        assert not SmsMessage.objects.exists()
    assert len(callbacks) == 1
    callbacks[0]()
    assert SmsMessage.objects.get().body == "hello"


def test_a_rolled_back_transaction_sends_nothing(db, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        contextlib.suppress(RuntimeError),
        transaction.atomic(),
    ):
        send_sms(to=TO, body="never")
        raise RuntimeError("the registration failed")
    assert callbacks == []
    assert not SmsMessage.objects.exists()


def test_a_wrong_backend_setting_fails_the_sender_at_once(db, settings):
    settings.SMS_BACKEND = "counter.sms.Missing"
    with pytest.raises(ImproperlyConfigured):
        send_sms(to=TO, body="hello")


def test_a_gateway_failure_after_commit_is_logged_not_raised(
    db, settings, django_capture_on_commit_callbacks, caplog
):
    settings.SMS_BACKEND = f"{__name__}.FailingBackend"
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        send_sms(to=TO, body="hello")
    assert "gateway down" in caplog.text
