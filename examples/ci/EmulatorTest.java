// The emulator in a container for the test class (Testcontainers, JUnit 5), called with the
// Tea SDK. Dependencies: com.aliyun:ecs20140526, org.testcontainers:testcontainers,
// org.testcontainers:junit-jupiter, org.junit.jupiter:junit-jupiter.

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.aliyun.ecs20140526.Client;
import com.aliyun.ecs20140526.models.ListPluginStatusRequest;
import com.aliyun.ecs20140526.models.ListPluginStatusResponseBody;
import com.aliyun.teaopenapi.models.Config;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import org.testcontainers.utility.DockerImageName;

@Testcontainers
class EmulatorTest {
    // Published by ecs-emulator's release workflow; OWNER is the account that publishes it.
    static final String IMAGE = System.getenv().getOrDefault(
            "ECS_EMULATOR_IMAGE", "ghcr.io/OWNER/ecs-emulator:0.1");

    @Container
    static final GenericContainer<?> EMULATOR = new GenericContainer<>(DockerImageName.parse(IMAGE))
            .withExposedPorts(9080)
            .waitingFor(Wait.forHttp("/_emulator/health").forStatusCode(200));

    /** ListPluginStatus with the demo data's key pair; endpoint is HOST:PORT. */
    static ListPluginStatusResponseBody listPluginStatus(String endpoint) throws Exception {
        Config config = new Config()
                .setAccessKeyId("LTAI5tDemoKey0001")
                .setAccessKeySecret("demo-secret")
                .setEndpoint(endpoint)
                .setProtocol("http");
        Client client = new Client(config);
        ListPluginStatusRequest request = new ListPluginStatusRequest()
                .setRegionId("cn-hangzhou")
                .setName("ecs_tools_test");
        return client.listPluginStatus(request).getBody();
    }

    @Test
    void listsTheDemoPlugins() throws Exception {
        String endpoint = EMULATOR.getHost() + ":" + EMULATOR.getMappedPort(9080);
        int total = listPluginStatus(endpoint).getTotalCount();
        assertEquals(12, total);
    }
}
