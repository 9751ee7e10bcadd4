"""The composition root: a `Gateway` is built without side effects; services failing together all report."""

from __future__ import annotations

import asyncio
import gc
import threading
from dataclasses import fields
from pathlib import Path

import pytest
import structlog

from relevent.app import Gateway, bridge_config, every_failure_reported
from relevent.config import MmsSection, MqttSection, Settings
from relevent.errors import EX_CONFIG, EX_UNAVAILABLE, ConfigError, ServicesFailedError, StartupError
from relevent.lan.mqtt import BrokerConfig, MqttBridgeConfig
from relevent.scl.generate import DEFAULT_MODEL
from relevent.scl.parse import load
from relevent.wan.mms import ConnectionLimits, GuardSettings, MmsSettings, ThrottleSettings
from relevent.wan.mms.security import TlsSetupError


def _footprint(state_dir: Path) -> tuple[list[Path], set[Path], int]:
    """The files in `state_dir`, the process's open descriptors (files, sockets) and its threads."""
    return list(state_dir.iterdir()), set(Path("/proc/self/fd").iterdir()), threading.active_count()


async def test_constructing_a_gateway_opens_no_file_socket_thread_or_task(tmp_path: Path) -> None:
    doc = load(DEFAULT_MODEL)
    settings = Settings(storage={"state_dir": tmp_path}, mms={"port": 1}, http={"port": 1})  # type: ignore[arg-type]
    gc.collect()  # what earlier tests left unreachable closes now, not while the gateway is built
    before, tasks = _footprint(tmp_path), asyncio.all_tasks()
    gateway = Gateway(settings, doc)
    # No lock, store, audit trail or key; no socket; libiec61850's model is not being created; no task.
    assert _footprint(tmp_path) == before == ([], before[1], before[2])
    assert asyncio.all_tasks() == tasks
    assert gateway.mms is None


async def _fail(error: Exception) -> None:
    raise error


async def _together(*errors: Exception) -> None:
    """Services that fail with `errors` in one TaskGroup, reported as the gateway reports them."""
    with every_failure_reported():
        async with asyncio.TaskGroup() as services:
            for error in errors:
                services.create_task(_fail(error))


async def test_services_failing_together_are_all_logged_and_raised() -> None:
    port = StartupError("HTTP endpoint 127.0.0.1:8610 cannot start: Address already in use")
    config = ConfigError("[mqtt] ems_request_topic is set but ems_slot, the schedule it writes, is not")
    with structlog.testing.capture_logs() as logs, pytest.raises(ServicesFailedError) as raised:
        await _together(port, config)
    assert raised.value.errors == (port, config)
    assert str(raised.value).splitlines() == [str(port), str(config)]
    assert [line["error"] for line in logs if line["event"] == "service failed"] == [str(port), str(config)]
    assert raised.value.exit_code == EX_CONFIG  # a restart would not cure the configuration


async def test_one_failure_is_raised_as_it_is_and_startup_errors_alone_may_be_retried() -> None:
    port = StartupError("port taken")
    with pytest.raises(StartupError) as raised:
        await _together(port)
    assert raised.value is port
    assert ServicesFailedError([port, StartupError("other")]).exit_code == EX_UNAVAILABLE


async def test_a_bug_beside_a_failure_keeps_its_traceback() -> None:
    with pytest.raises(ExceptionGroup) as raised:
        await _together(StartupError("port taken"), KeyError("bug"))
    assert raised.group_contains(KeyError)
    assert raised.group_contains(StartupError)


def test_a_tls_file_that_cannot_be_loaded_ends_the_process_as_a_start_up_error() -> None:
    error = TlsSetupError("cannot load the MMS ca_file (not PEM, or unreadable)")
    assert isinstance(error, StartupError)
    assert error.exit_code == EX_UNAVAILABLE


def test_the_mqtt_bridge_takes_its_sections_as_configured_and_restates_none_of_them() -> None:
    settings = Settings(
        mqtt={"url": "mqtts://broker.site:8884", "heartbeat_s": 7.0},  # type: ignore[arg-type]
        devices=[{"id": "bat1", "class": "battery"}],  # type: ignore[arg-type]
    )
    config = bridge_config(settings)
    assert config.mqtt is settings.mqtt
    assert (config.broker.host, config.broker.port, config.broker.tls) == ("broker.site", 8884, True)
    for view in (MqttBridgeConfig, BrokerConfig):
        assert not {field.name for field in fields(view)} & set(MqttSection.model_fields)


def test_the_mms_views_default_to_the_mms_section() -> None:
    section, server = MmsSection(), MmsSettings()
    assert (server.host, server.port, server.reports) == (section.host, section.port, section.reports)
    assert GuardSettings() == GuardSettings(section.association_timeout_s, section.tls_handshake_timeout_s)
    throttle = ThrottleSettings(section.auth_failure_delay_s, section.auth_failure_max_delay_s)
    assert ThrottleSettings() == throttle
    limits = ConnectionLimits()
    assert (limits.per_peer, limits.per_actor, limits.reserved) == (
        section.max_connections_per_peer, section.max_connections_per_actor, section.reserved_connections
    )
