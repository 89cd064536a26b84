"""The emulator in a container for the test session (Testcontainers), called with the SDK.

    pip install pytest testcontainers alibabacloud_ecs20140526==7.11.8
    pytest testcontainers_test.py
"""

import os

import pytest
from alibabacloud_ecs20140526 import models
from alibabacloud_ecs20140526.client import Client
from alibabacloud_tea_openapi.utils_models import Config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

# Published by ecs-emulator's release workflow; OWNER is the account that publishes it.
IMAGE = os.environ.get("ECS_EMULATOR_IMAGE", "ghcr.io/OWNER/ecs-emulator:0.1")


def list_plugin_status(endpoint):
    """ListPluginStatus with the demo data's key pair; endpoint is HOST:PORT."""
    config = Config(access_key_id="LTAI5tDemoKey0001", access_key_secret="demo-secret",
                    endpoint=endpoint, protocol="http")
    client = Client(config)
    request = models.ListPluginStatusRequest(region_id="cn-hangzhou", name="ecs_tools_test")
    return client.list_plugin_status(request).body


@pytest.fixture(scope="session")
def emulator_endpoint():
    """Starts the emulator once, waits for its health route, and gives HOST:PORT."""
    container = (DockerContainer(IMAGE)
                 .with_exposed_ports(9080)
                 .waiting_for(HttpWaitStrategy(9080, "/_emulator/health").for_status_code(200)))
    with container:
        yield f"{container.get_container_host_ip()}:{container.get_exposed_port(9080)}"


def test_lists_the_demo_plugins(emulator_endpoint):
    body = list_plugin_status(emulator_endpoint)
    assert body.total_count == 12
    names = {plugin.plugin_name
             for entry in body.instance_plugin_status_set.instance_plugin_status
             for plugin in entry.plugin_status_set.plugin_status}
    assert names == {"ecs_tools_test"}
